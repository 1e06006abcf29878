//! Release decision: identity, rules and sticky percentage buckets, as a pure function
