//! The framing tracker itself: pure, no I/O, so it can be fuzzed and tested on its own.

/// What the framing of one request head showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Both Content-Length and Transfer-Encoding, or a stream that could not be followed.
    Conflicting,
}

/// Follows HTTP/1.1 request framing over a byte stream.
#[derive(Debug)]
pub struct Tracker {
    state: State,
    line: Vec<u8>,
    max_line: usize,
    head: Head,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading head lines; `first` until the request line is done.
    Head {
        first: bool,
    },
    /// A body of known length.
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data: bytes left of it.
    ChunkEnd(u8),
    Trailers,
    /// Lost track: every later request is suspect.
    Lost,
}

#[derive(Debug, Default)]
struct Head {
    content_length: Option<u64>,
    chunked: bool,
    both: bool,
    unreadable_length: bool,
}

impl Tracker {
    pub fn new(max_line: usize) -> Tracker {
        Tracker {
            state: State::Head { first: true },
            line: Vec::new(),
            max_line,
            head: Head::default(),
        }
    }

    /// True once the stream could not be followed: every later request is suspect.
    pub fn lost(&self) -> bool {
        self.state == State::Lost
    }

    /// True between the first byte of a request line and the end of its head.
    pub fn in_head(&self) -> bool {
        self.state == State::Head { first: false }
    }

    /// Consumes bytes; calls `verdict` for each request head completed in them.
    pub fn feed(&mut self, mut bytes: &[u8], mut verdict: impl FnMut(Verdict)) {
        while !bytes.is_empty() {
            match self.state {
                // hyper refuses what made us lose track and closes the connection.
                State::Lost => return,
                State::Body(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if take == n {
                        State::Head { first: true }
                    } else {
                        State::Body(n - take)
                    };
                }
                State::ChunkData(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if take == n {
                        State::ChunkEnd(2)
                    } else {
                        State::ChunkData(n - take)
                    };
                }
                State::ChunkEnd(left) => {
                    let take = usize::from(left).min(bytes.len());
                    bytes = &bytes[take..];
                    let left = left - take as u8;
                    self.state = if left == 0 {
                        State::ChunkSize
                    } else {
                        State::ChunkEnd(left)
                    };
                }
                State::Head { .. } | State::ChunkSize | State::Trailers => {
                    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
                        self.push_line(bytes);
                        return;
                    };
                    if self.line.is_empty() && end <= self.max_line {
                        // The whole line is in this read: look at it where it is, no copy.
                        let line = &bytes[..end];
                        bytes = &bytes[end + 1..];
                        if let Some(v) = self.on_line(trim_cr(line)) {
                            verdict(v);
                        }
                        continue;
                    }
                    self.push_line(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    if self.state != State::Lost {
                        let line = std::mem::take(&mut self.line);
                        if let Some(v) = self.on_line(trim_cr(&line)) {
                            verdict(v);
                        }
                        self.line = line;
                        self.line.clear();
                    }
                }
            }
        }
    }

    fn push_line(&mut self, bytes: &[u8]) {
        if self.line.len() + bytes.len() > self.max_line {
            // hyper refuses heads this large itself (431); nothing to follow after that.
            self.state = State::Lost;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Option<Verdict> {
        match self.state {
            State::Head { first: true } => {
                // Empty lines before a request line are allowed (RFC 9112 §2.2).
                if !line.is_empty() {
                    self.state = State::Head { first: false };
                    self.head = Head::default();
                }
                None
            }
            State::Head { first: false } if line.is_empty() => {
                if self.head.unreadable_length {
                    self.state = State::Lost;
                    return Some(Verdict::Conflicting);
                }
                let verdict = if self.head.both {
                    Verdict::Conflicting
                } else {
                    Verdict::Clean
                };
                self.state = if self.head.chunked {
                    State::ChunkSize
                } else {
                    match self.head.content_length {
                        Some(n) if n > 0 => State::Body(n),
                        _ => State::Head { first: true },
                    }
                };
                Some(verdict)
            }
            State::Head { first: false } => {
                let colon = line.iter().position(|b| *b == b':')?;
                let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
                if name.eq_ignore_ascii_case(b"content-length") {
                    if self.head.chunked {
                        self.head.both = true;
                    }
                    // A list of equal values is one length (RFC 9110 §8.6); hyper agrees.
                    let mut values = value.split(|b| *b == b',').map(|v| parse_decimal(trim(v)));
                    let first = values.next().flatten();
                    match first {
                        Some(n)
                            if values.all(|v| v == Some(n))
                                && self.head.content_length.is_none_or(|m| m == n) =>
                        {
                            self.head.content_length = Some(n)
                        }
                        _ => self.head.unreadable_length = true,
                    }
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    if self.head.content_length.is_some() {
                        self.head.both = true;
                    }
                    self.head.chunked = true;
                }
                None
            }
            State::ChunkSize => {
                let digits = line
                    .split(|b| *b == b';')
                    .next()
                    .map(trim)
                    .unwrap_or_default();
                match std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| u64::from_str_radix(d, 16).ok())
                {
                    Some(0) => self.state = State::Trailers,
                    Some(n) => self.state = State::ChunkData(n),
                    None => self.state = State::Lost,
                }
                None
            }
            State::Trailers => {
                if line.is_empty() {
                    self.state = State::Head { first: true };
                }
                None
            }
            _ => None,
        }
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(stream: &[u8], split: usize) -> Vec<Verdict> {
        let mut t = Tracker::new(8192);
        let mut out = Vec::new();
        for piece in stream.chunks(split.max(1)) {
            t.feed(piece, |v| out.push(v));
        }
        out
    }

    #[test]
    fn follows_heads_and_bodies_at_any_split() {
        let stream = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nTransfer-Encoding: chunked\r\nContent-Len\
GET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n\
GET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        for split in [1, 2, 3, 7, 64, stream.len()] {
            assert_eq!(
                verdicts(stream, split),
                vec![Verdict::Clean; 3],
                "split {split}"
            );
        }
    }

    #[test]
    fn both_framing_fields_in_either_order() {
        let a = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let b = b"POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n";
        assert_eq!(verdicts(a, 5), vec![Verdict::Conflicting]);
        assert_eq!(verdicts(b, 5), vec![Verdict::Conflicting]);
    }

    #[test]
    fn garbage_loses_track_for_good() {
        let stream =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 100), vec![Verdict::Clean]);
        let stream = b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 100), vec![Verdict::Conflicting]);
        let stream = b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 3), vec![Verdict::Clean, Verdict::Clean]);
    }
}
