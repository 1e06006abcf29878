//! The request pipeline: accept, route, decide, serve or forward, respond
