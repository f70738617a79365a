//! DER TLVs with definite lengths: a writer, for certificates and CMS structures the tests
//! build, and a reader, for taking real ones apart. Test code: malformed input panics.

/// A TLV: `tag`, the definite length of `content`, `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// (tag, header length, total length) of the element at the front of `b`.
pub fn head(b: &[u8]) -> (u8, usize, usize) {
    let l = b[1];
    if l < 0x80 {
        (b[0], 2, 2 + l as usize)
    } else {
        let n = (l & 0x7f) as usize;
        let len = b[2..2 + n].iter().fold(0usize, |a, &x| (a << 8) | x as usize);
        (b[0], 2 + n, 2 + n + len)
    }
}

/// (tag, content, rest) of the element at the front of `b`.
pub fn split(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, hl, total) = head(b);
    (tag, &b[hl..total], &b[total..])
}

/// The elements (whole TLVs) that `v` holds one after another.
pub fn children(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = v;
    while !rest.is_empty() {
        let (_, _, total) = head(rest);
        out.push(rest[..total].to_vec());
        rest = &rest[total..];
    }
    out
}

/// Rebuild `der` with the children at `path` replaced by `f(children)`.
pub fn edit(der: &[u8], path: &[usize], f: &dyn Fn(Vec<Vec<u8>>) -> Vec<Vec<u8>>) -> Vec<u8> {
    let (tag, hl, total) = head(der);
    let kids = children(&der[hl..total]);
    let new = match path.split_first() {
        None => f(kids),
        Some((&i, rest)) => {
            kids.into_iter().enumerate().map(|(j, k)| if j == i { edit(&k, rest, f) } else { k }).collect()
        }
    };
    tlv(tag, &new.concat())
}

/// The element at `path` (child indices from the outer element).
pub fn at(der: &[u8], path: &[usize]) -> Vec<u8> {
    match path.split_first() {
        None => der.to_vec(),
        Some((&i, rest)) => {
            let (_, hl, total) = head(der);
            at(&children(&der[hl..total])[i], rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        for n in [0usize, 1, 127, 128, 255, 256, 70_000] {
            let content = vec![7u8; n];
            let t = tlv(0x04, &content);
            let (tag, c, rest) = split(&t);
            assert_eq!((tag, c, rest), (0x04, &content[..], &[][..]), "length {n}");
        }
        assert_eq!(tlv(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
        assert_eq!(tlv(0x04, &[0; 256])[..4], [0x04, 0x82, 1, 0]);
    }

    #[test]
    fn edit_and_at_follow_paths() {
        let inner = tlv(0x30, &[tlv(0x02, &[1]), tlv(0x02, &[2])].concat());
        let outer = tlv(0x30, &[tlv(0x05, &[]), inner].concat());
        assert_eq!(at(&outer, &[1, 1]), tlv(0x02, &[2]));
        let swapped = edit(&outer, &[1], &|mut kids| {
            kids.reverse();
            kids
        });
        assert_eq!(at(&swapped, &[1, 0]), tlv(0x02, &[2]));
        assert_eq!(children(split(&swapped).1).len(), 2);
    }
}
