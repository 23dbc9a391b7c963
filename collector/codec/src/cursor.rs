//! A bounds-checked big-endian reader. All parsing goes through it, so no input can
//! index past a slice: every read returns [`DecodeError::Truncated`] instead.

use crate::error::{DecodeError, Result};

/// Reads network-order integers and sub-slices from a byte slice.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`; `what` names the structure in truncation errors.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Cursor { buf, what }
    }

    /// Renames the structure reported by later truncation errors.
    pub fn context(&mut self, what: &'static str) {
        self.what = what;
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn truncated(&self, needed: usize) -> DecodeError {
        DecodeError::Truncated { what: self.what, needed, available: self.buf.len() }
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(self.truncated(n));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes exactly `N` bytes as an array.
    #[inline]
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Skips `n` bytes.
    #[inline]
    pub fn skip(&mut self, n: usize) -> Result<()> {
        self.take(n).map(|_| ())
    }

    /// Reads one byte.
    #[inline]
    pub fn u8(&mut self) -> Result<u8> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u16.
    #[inline]
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u32.
    #[inline]
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian u64.
    #[inline]
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}

/// Interprets 1 to 8 bytes as an unsigned big-endian integer (reduced-size encoding,
/// RFC 7011 §6.2). Longer inputs keep their low 8 bytes.
#[inline]
pub fn be_uint(bytes: &[u8]) -> u64 {
    // The common widths first: a counter is decoded per field of every record.
    match *bytes {
        [a] => u64::from(a),
        [a, b] => u64::from(u16::from_be_bytes([a, b])),
        [a, b, c, d] => u64::from(u32::from_be_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => u64::from_be_bytes([a, b, c, d, e, f, g, h]),
        _ => bytes.iter().rev().take(8).rev().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduced_size_integers() {
        assert_eq!(be_uint(&[]), 0);
        assert_eq!(be_uint(&[1, 2]), 0x0102);
        assert_eq!(be_uint(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff]), 0xff);
    }

    #[test]
    fn truncation_is_an_error() {
        let mut c = Cursor::new(&[1, 2, 3], "test");
        assert_eq!(c.u16().ok(), Some(0x0102));
        assert!(matches!(c.u16(), Err(DecodeError::Truncated { needed: 2, available: 1, .. })));
    }
}
