//! Reading exact byte counts from a stream while keeping the file offset, so a clean
//! end of file (between records) can be told from one that cuts a record short.

use crate::error::CaptureError;
use std::io::{ErrorKind, Read};

/// A byte stream with its current offset.
#[derive(Debug)]
pub(crate) struct Input<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R, offset: u64) -> Self {
        Input { inner, offset }
    }

    /// Bytes consumed so far (including any the caller consumed before).
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Reads as many bytes as fit in `buf`, stopping early only at end of file.
    /// Returns how many were read.
    fn read_full(&mut self, buf: &mut [u8]) -> Result<usize, CaptureError> {
        let mut filled = 0;
        while let Some(rest) = buf.get_mut(filled..) {
            if rest.is_empty() {
                break;
            }
            match self.inner.read(rest) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += filled as u64;
        Ok(filled)
    }

    /// Fills `buf` exactly; a partial fill is a truncation of `what`.
    pub(crate) fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), CaptureError> {
        let start = self.offset;
        let got = self.read_full(buf)?;
        if got < buf.len() {
            return Err(CaptureError::Truncated {
                what,
                offset: start,
                needed: buf.len() as u64,
                available: got as u64,
            });
        }
        Ok(())
    }

    /// Like [`Input::exact`], but end of file before the first byte is a clean end
    /// (`Ok(false)`): that is where a well-formed file stops.
    pub(crate) fn exact_or_eof(&mut self, buf: &mut [u8], what: &'static str) -> Result<bool, CaptureError> {
        let start = self.offset;
        let got = self.read_full(buf)?;
        match got {
            0 if !buf.is_empty() => Ok(false),
            n if n < buf.len() => Err(CaptureError::Truncated {
                what,
                offset: start,
                needed: buf.len() as u64,
                available: n as u64,
            }),
            _ => Ok(true),
        }
    }

    /// Replaces the contents of `buf` with the next `len` bytes. Grows `buf` only as
    /// data actually arrives, so a corrupt length at the end of a file costs nothing.
    pub(crate) fn vec(
        &mut self,
        buf: &mut Vec<u8>,
        len: u64,
        what: &'static str,
    ) -> Result<(), CaptureError> {
        let start = self.offset;
        buf.clear();
        // read_to_end retries on Interrupted by itself.
        let read = (&mut self.inner).take(len).read_to_end(buf);
        let got = buf.len();
        if let Err(e) = read {
            self.offset += got as u64;
            return Err(e.into());
        }
        self.offset += got as u64;
        if (got as u64) < len {
            return Err(CaptureError::Truncated { what, offset: start, needed: len, available: got as u64 });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    #[test]
    fn clean_eof_and_truncation() {
        let data = [1u8, 2, 3, 4, 5];
        let mut input = Input::new(&data[..], 0);
        let mut four = [0u8; 4];
        assert!(input.exact_or_eof(&mut four, "x").unwrap());
        assert_eq!(input.offset(), 4);
        let err = input.exact_or_eof(&mut four, "record").unwrap_err();
        assert!(matches!(err, CaptureError::Truncated { offset: 4, needed: 4, available: 1, .. }));
        assert!(!input.exact_or_eof(&mut four, "x").unwrap());
    }

    #[test]
    fn vec_reports_short_data() {
        let data = [7u8; 10];
        let mut input = Input::new(&data[..], 100);
        let mut buf = Vec::new();
        input.vec(&mut buf, 6, "a").unwrap();
        assert_eq!(buf, [7u8; 6]);
        let err = input.vec(&mut buf, 1 << 40, "b").unwrap_err();
        assert!(matches!(err, CaptureError::Truncated { offset: 106, available: 4, .. }));
    }
}
