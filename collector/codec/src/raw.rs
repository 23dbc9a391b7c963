//! Raw payload files: UDP payloads saved without any capture framing (test vectors,
//! netcat dumps). Some hold several datagrams back to back; the headers that declare
//! a length tell where one ends (`flowvision-collector decode --raw-split`, and the
//! conformance tests that feed the corpus the same way).

/// NetFlow v5 header and record sizes.
const V5_HEADER: usize = 24;
const V5_RECORD: usize = 48;
const V5_MAX_RECORDS: usize = 30;
const IPFIX_HEADER: usize = 16;

/// Splits back-to-back datagrams where their headers give their length: NetFlow v5
/// (24 + 48 x count) and IPFIX (message length). NetFlow v9 and sFlow headers carry
/// no length, so from the first such datagram on, the rest is one datagram, as is
/// anything whose header does not fit the remaining bytes.
pub fn split(buf: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = buf;
    while !rest.is_empty() {
        let len = datagram_len(rest).filter(|len| *len > 0 && *len < rest.len());
        match len.and_then(|len| Some((rest.get(..len)?, rest.get(len..)?))) {
            Some((head, tail)) => {
                out.push(head);
                rest = tail;
            }
            None => {
                out.push(rest);
                break;
            }
        }
    }
    if out.is_empty() {
        // An empty file is still one (empty, undecodable) datagram.
        out.push(buf);
    }
    out
}

/// The length the header at the start of `buf` declares, for formats that have one.
fn datagram_len(buf: &[u8]) -> Option<usize> {
    let field = |at: usize| -> Option<usize> {
        let b: [u8; 2] = buf.get(at..at + 2)?.try_into().ok()?;
        Some(usize::from(u16::from_be_bytes(b)))
    };
    match field(0)? {
        5 => {
            let count = field(2)?;
            (1..=V5_MAX_RECORDS).contains(&count).then_some(V5_HEADER + V5_RECORD * count)
        }
        10 => field(2).filter(|len| *len >= IPFIX_HEADER),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]
    use super::*;

    fn v5(count: u16) -> Vec<u8> {
        let mut d = vec![0, 5];
        d.extend(count.to_be_bytes());
        d.resize(V5_HEADER + V5_RECORD * usize::from(count), 0xee);
        d
    }

    fn ipfix(len: u16) -> Vec<u8> {
        let mut d = vec![0, 10];
        d.extend(len.to_be_bytes());
        d.resize(usize::from(len), 0);
        d
    }

    #[test]
    fn splits_by_declared_lengths() {
        let file = [v5(2), v5(1), ipfix(40), ipfix(16)].concat();
        let parts = split(&file);
        let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
        assert_eq!(lens, [120, 72, 40, 16]);
    }

    #[test]
    fn keeps_what_cannot_be_split() {
        let v9 = [0u8, 9, 0, 1, 0, 0, 0, 0];
        let file = [v5(1), v9.to_vec(), v5(1)].concat();
        let lens: Vec<usize> = split(&file).iter().map(|p| p.len()).collect();
        assert_eq!(lens, [72, 8 + 72]);
        // A count that runs past the end: the whole rest is one (bad) datagram.
        let mut short = v5(3);
        short.truncate(100);
        assert_eq!(split(&short).len(), 1);
        assert_eq!(split(&ipfix(8)[..4]), [&[0u8, 10, 0, 8][..]]);
        let empty: &[u8] = &[];
        assert_eq!(split(empty), [empty]);
    }
}
