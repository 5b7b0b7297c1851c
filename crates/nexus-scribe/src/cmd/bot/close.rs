//! What a close code means for the bot: done, reconnect and resume, or give up.

/// How the bot reacts to the server closing the socket with a code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// 1000: the stream ended normally.
    Normal,
    /// The server or the network failed; reconnect with the resume token.
    Resume,
    /// The server refused the stream; reconnecting would be refused again.
    Final,
}

/// Classifies a close code. 1001 (going away), 1006 (no close frame), 1011 (internal error),
/// 1012 (restarting), 1013 (try again later) and 1014 (bad gateway) resume; every 4xxx code of
/// PROTOCOL.md §1 and the remaining 1xxx codes are final.
pub fn classify(code: u16) -> CloseKind {
    match code {
        1000 => CloseKind::Normal,
        1001 | 1006 | 1011 | 1012 | 1013 | 1014 => CloseKind::Resume,
        _ => CloseKind::Final,
    }
}

/// A few words on what a close code means, for the stderr line.
pub fn meaning(code: u16) -> &'static str {
    match code {
        1000 => "normal closure",
        1001 => "server going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1006 => "connection lost",
        1007 => "invalid message data",
        1008 => "policy violation",
        1009 => "message too big",
        1011 => "internal server error",
        1012 => "server restarting",
        1013 => "try again later",
        1014 => "bad gateway",
        4001 => "unauthenticated",
        4003 => "forbidden",
        4004 => "no such meeting",
        4008 => "policy violation",
        4029 => "rate limited",
        4102 => "at capacity",
        _ => "unknown close code",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_failures_resume_and_refusals_are_final() {
        for code in [1006, 1011, 1012, 1013, 1001] {
            assert_eq!(classify(code), CloseKind::Resume, "{code}");
        }
        for code in [4001, 4003, 4004, 4008, 4029, 4102, 4999, 1002, 1008, 1009] {
            assert_eq!(classify(code), CloseKind::Final, "{code}");
        }
        assert_eq!(classify(1000), CloseKind::Normal);
    }

    #[test]
    fn protocol_codes_have_their_documented_meaning() {
        assert_eq!(meaning(4102), "at capacity");
        assert_eq!(meaning(4029), "rate limited");
        assert_eq!(meaning(4004), "no such meeting");
        assert_eq!(meaning(4321), "unknown close code");
    }
}
