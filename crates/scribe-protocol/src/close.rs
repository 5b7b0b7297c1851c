//! WebSocket close codes (PROTOCOL.md §1).

/// A close code the server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    pub const NORMAL: Self = Self(1000);
    pub const INTERNAL: Self = Self(1011);
    pub const UNAUTHENTICATED: Self = Self(4001);
    pub const FORBIDDEN: Self = Self(4003);
    pub const NOT_FOUND: Self = Self(4004);
    pub const POLICY: Self = Self(4008);
    pub const RATE_LIMITED: Self = Self(4029);
    pub const AT_CAPACITY: Self = Self(4102);
}
