//! AES profiles: RFC 3962 (aes-cts-hmac-sha1-96) and RFC 8009 (aes-cts-hmac-sha2).
//!
//! Both encrypt `confounder || plaintext` with AES in CBC mode with ciphertext
//! stealing (the last two blocks swapped, zero IV) and append a truncated HMAC.
//! They differ in key derivation and in what the HMAC covers.

use aes::cipher::typenum::{U16, Unsigned};
use aes::cipher::{
    BlockCipherDecBackend, BlockCipherDecClosure, BlockCipherDecrypt, BlockCipherEncBackend,
    BlockCipherEncClosure, BlockCipherEncrypt, BlockSizeUser, InOutBuf, KeyInit,
};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Sha256, Sha384};
use zeroize::Zeroizing;

use super::CryptoError;

const BLOCK: usize = 16;

/// An expanded AES key (128 or 256 bits).
#[derive(Clone)]
pub(crate) enum AesKey {
    A128(Box<Aes128>),
    A256(Box<Aes256>),
}

impl AesKey {
    pub(super) fn new(key: &[u8]) -> Result<Self, CryptoError> {
        match key.len() {
            16 => Aes128::new_from_slice(key).map(|k| Self::A128(Box::new(k))),
            32 => Aes256::new_from_slice(key).map(|k| Self::A256(Box::new(k))),
            _ => return Err(CryptoError::KeyLength),
        }
        .map_err(|_| CryptoError::KeyLength)
    }

    fn encrypt(&self, block: &mut [u8; BLOCK]) {
        match self {
            Self::A128(k) => k.encrypt_block(block.into()),
            Self::A256(k) => k.encrypt_block(block.into()),
        }
    }

    fn decrypt(&self, block: &mut [u8; BLOCK]) {
        match self {
            Self::A128(k) => k.decrypt_block(block.into()),
            Self::A256(k) => k.decrypt_block(block.into()),
        }
    }

    /// Runs CTS decryption's block work in one backend call: the wide backends
    /// set up their round keys at every call (VAES-512 broadcasts all of them),
    /// so one call instead of three per message.
    fn cts_blocks(&self, work: CtsBlocks<'_>) {
        match self {
            Self::A128(k) => k.decrypt_with_backend(work),
            Self::A256(k) => k.decrypt_with_backend(work),
        }
    }

    /// RFC 3961 DK's output blocks, each the encryption of the one before, in
    /// one backend call.
    fn chain(&self, work: Chain<'_>) {
        match self {
            Self::A128(k) => k.encrypt_with_backend(work),
            Self::A256(k) => k.encrypt_with_backend(work),
        }
    }
}

/// The block cipher work of [`cts_decrypt`]: the leading full blocks in place
/// (CBC decryption of them is parallel), then the stolen pair: `last` holds
/// the ciphertext block in position n-2 and becomes D of it; `second_last`
/// holds the short tail and becomes D of the rebuilt second-to-last block.
struct CtsBlocks<'a> {
    head: &'a mut [aes::Block],
    last: &'a mut [u8; BLOCK],
    second_last: &'a mut [u8; BLOCK],
    tail_len: usize,
}

impl BlockSizeUser for CtsBlocks<'_> {
    type BlockSize = U16;
}

impl BlockCipherDecClosure for CtsBlocks<'_> {
    fn call<B: BlockCipherDecBackend<BlockSize = U16>>(self, backend: &B) {
        let head = InOutBuf::from(self.head);
        if B::ParBlocksSize::USIZE > 1 {
            let (chunks, rest) = head.into_chunks();
            for chunk in chunks {
                backend.decrypt_par_blocks(chunk);
            }
            backend.decrypt_tail_blocks(rest);
        } else {
            for block in head {
                backend.decrypt_block(block);
            }
        }
        backend.decrypt_block(as_block(self.last).into());
        // C_{n-1} is the short tail followed by the end of D(C_{n-2}).
        let tail_len = self.tail_len.min(BLOCK);
        if let (Some(rebuilt), Some(stolen)) = (
            self.second_last.get_mut(tail_len..),
            self.last.get(tail_len..),
        ) {
            rebuilt.copy_from_slice(stolen);
        }
        backend.decrypt_block(as_block(self.second_last).into());
    }
}

fn as_block(bytes: &mut [u8; BLOCK]) -> &mut aes::Block {
    bytes.into()
}

/// DK's chain: `block` is encrypted again for each chunk of `out`.
struct Chain<'a> {
    block: [u8; BLOCK],
    out: &'a mut Vec<u8>,
    len: usize,
}

impl BlockSizeUser for Chain<'_> {
    type BlockSize = U16;
}

impl BlockCipherEncClosure for Chain<'_> {
    fn call<B: BlockCipherEncBackend<BlockSize = U16>>(self, backend: &B) {
        let Chain {
            mut block,
            out,
            len,
        } = self;
        while out.len() < len {
            backend.encrypt_block(as_block(&mut block).into());
            let take = (len - out.len()).min(BLOCK);
            out.extend_from_slice(block.get(..take).unwrap_or_default());
        }
    }
}

fn xor_into(dst: &mut [u8; BLOCK], src: &[u8; BLOCK]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d ^= s;
    }
}

fn block_at(data: &[u8], index: usize) -> [u8; BLOCK] {
    let mut b = [0u8; BLOCK];
    let start = index * BLOCK;
    if let Some(src) = data.get(start..) {
        let n = src.len().min(BLOCK);
        b[..n].copy_from_slice(&src[..n]);
    }
    b
}

/// CBC with ciphertext stealing and a zero IV, as RFC 3962 §5 defines it.
/// `data` must be at least one block long (callers guarantee it: a confounder is
/// always present).
pub(super) fn cts_encrypt(key: &AesKey, data: &[u8]) -> Vec<u8> {
    let n = data.len().div_ceil(BLOCK);
    let mut out = Vec::with_capacity(data.len());
    let mut prev = [0u8; BLOCK];
    let mut blocks: Vec<[u8; BLOCK]> = Vec::with_capacity(n);
    for i in 0..n {
        let mut b = block_at(data, i);
        xor_into(&mut b, &prev);
        key.encrypt(&mut b);
        prev = b;
        blocks.push(b);
    }
    if n == 1 {
        out.extend_from_slice(&blocks[0]);
        return out;
    }
    let last_len = data.len() - (n - 1) * BLOCK;
    for b in &blocks[..n - 2] {
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&blocks[n - 1]);
    out.extend_from_slice(&blocks[n - 2][..last_len]);
    out
}

/// Inverse of [`cts_encrypt`]. Fails on input shorter than one block.
pub(super) fn cts_decrypt(key: &AesKey, data: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if data.len() < BLOCK {
        return Err(CryptoError::Truncated);
    }
    let n = data.len().div_ceil(BLOCK);
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    if n == 1 {
        let mut b = block_at(data, 0);
        key.decrypt(&mut b);
        out.extend_from_slice(&b);
        return Ok(out);
    }
    // CBC decryption of the leading full blocks is parallel: P_i = D(C_i) ^ C_{i-1}.
    // Decrypt them in place in the output buffer, with the stolen pair, in one call.
    let head = &data[..(n - 2) * BLOCK];
    out.extend_from_slice(head);
    let last_len = data.len() - (n - 1) * BLOCK;
    // The full block in position n-2 is the encryption of the (padded) last block;
    // the short tail is the head of the encryption of the second-to-last block.
    let mut d = block_at(data, n - 2);
    let tail = block_at(data, n - 1);
    let mut second_last_cipher = tail;
    let (chunks, _) = out.as_chunks_mut::<BLOCK>();
    key.cts_blocks(CtsBlocks {
        head: aes::Block::cast_slice_from_core_mut(chunks),
        last: &mut d,
        second_last: &mut second_last_cipher,
        tail_len: last_len,
    });
    let mut prev = [0u8; BLOCK];
    for (i, chunk) in chunks.iter_mut().enumerate() {
        xor_into(chunk, &prev);
        prev = block_at(head, i);
    }
    // `d` is D(C_{n-2}); the last plaintext is it XOR the rebuilt C_{n-1}, whose
    // first `last_len` bytes are the tail.
    let mut last_plain = d;
    xor_into(&mut last_plain, &tail);
    let mut second_last_plain = second_last_cipher;
    xor_into(&mut second_last_plain, &prev);
    out.extend_from_slice(&second_last_plain);
    out.extend_from_slice(&last_plain[..last_len]);
    Ok(out)
}

/// RFC 3961 §5.1 n-fold: replicate the input, each copy rotated right by 13 more
/// bits, to the least common multiple of both lengths, then add the `out_len`-byte
/// blocks with one's-complement (end-around carry) addition.
pub(super) fn nfold(input: &[u8], out_len: usize) -> Vec<u8> {
    let in_len = input.len();
    if in_len == 0 || out_len == 0 {
        return vec![0; out_len];
    }
    let lcm = in_len / gcd(in_len, out_len) * out_len;
    let mut acc = vec![0u32; out_len];
    for copy in 0..lcm / in_len {
        // This copy is the input rotated right by 13 * copy bits.
        let rot = (13 * copy) % (in_len * 8);
        let (byte_shift, bit_shift) = (rot / 8, rot % 8);
        for k in 0..in_len {
            let hi = input[(k + in_len - byte_shift) % in_len];
            let byte = if bit_shift == 0 {
                hi
            } else {
                let lo = input[(k + 2 * in_len - byte_shift - 1) % in_len];
                (hi >> bit_shift) | (lo << (8 - bit_shift))
            };
            acc[(copy * in_len + k) % out_len] += u32::from(byte);
        }
    }
    // Propagate carries from the least significant byte, wrapping around until stable.
    loop {
        let mut carry = 0u32;
        for v in acc.iter_mut().rev() {
            let sum = *v + carry;
            *v = sum & 0xFF;
            carry = sum >> 8;
        }
        if carry == 0 {
            break;
        }
        if let Some(last) = acc.last_mut() {
            *last += carry;
        }
    }
    acc.into_iter().map(|v| v as u8).collect()
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Usage numbers below this have their folded constants precomputed.
const FOLD_CACHE_USAGES: usize = 64;

/// n-fold of a 5-byte usage constant (usage ‖ 0xAA/0x55/0x99) to one block; the
/// common usages come from a table built once, since every session-key
/// derivation needs two of them.
fn folded(constant: &[u8]) -> [u8; BLOCK] {
    static TABLE: std::sync::OnceLock<Vec<[[u8; BLOCK]; 3]>> = std::sync::OnceLock::new();
    let fold = |c: &[u8]| -> [u8; BLOCK] { nfold(c, BLOCK).try_into().unwrap_or([0; BLOCK]) };
    if let [0, 0, 0, usage, kind @ (0xAA | 0x55 | 0x99)] = *constant
        && usize::from(usage) < FOLD_CACHE_USAGES
    {
        let table = TABLE.get_or_init(|| {
            (0..FOLD_CACHE_USAGES as u8)
                .map(|u| [0xAAu8, 0x55, 0x99].map(|k| fold(&[0, 0, 0, u, k])))
                .collect()
        });
        let slot = match kind {
            0xAA => 0,
            0x55 => 1,
            _ => 2,
        };
        if let Some(row) = table.get(usize::from(usage)) {
            return row[slot];
        }
    }
    fold(constant)
}

/// RFC 3961 DK(key, constant) for the AES profiles (random-to-key is the identity).
pub(super) fn dk(base: &[u8], constant: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    Ok(dk_with(&AesKey::new(base)?, base.len(), constant))
}

/// DK with the base key's schedule already expanded (derive several usage keys
/// from one schedule).
pub(super) fn dk_with(base: &AesKey, len: usize, constant: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    base.chain(Chain {
        block: folded(constant),
        out: &mut out,
        len,
    });
    out
}

/// The hash behind an AES profile's integrity and key derivation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

/// A pre-keyed HMAC: the key schedule is done once and cloned per message.
#[derive(Clone)]
pub(crate) enum KeyedMac {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

impl KeyedMac {
    pub(super) fn new(hash: Hash, key: &[u8]) -> Result<Self, CryptoError> {
        let bad = |_| CryptoError::KeyLength;
        Ok(match hash {
            Hash::Sha1 => Self::Sha1(Hmac::new_from_slice(key).map_err(bad)?),
            Hash::Sha256 => Self::Sha256(Hmac::new_from_slice(key).map_err(bad)?),
            Hash::Sha384 => Self::Sha384(Hmac::new_from_slice(key).map_err(bad)?),
        })
    }

    /// HMAC over the concatenation of `parts`.
    pub(super) fn compute(&self, parts: &[&[u8]]) -> MacOutput {
        fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]]) -> MacOutput {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            let mut out = MacOutput {
                bytes: [0; MacOutput::MAX],
                len: 0,
            };
            let tag = m.finalize().into_bytes();
            for (o, b) in out.bytes.iter_mut().zip(tag.iter()) {
                *o = *b;
            }
            out.len = tag.len().min(MacOutput::MAX);
            out
        }
        match self {
            Self::Sha1(m) => run(m, parts),
            Self::Sha256(m) => run(m, parts),
            Self::Sha384(m) => run(m, parts),
        }
    }
}

/// An HMAC's output, on the stack (it may be key material: wiped on drop).
pub(crate) struct MacOutput {
    bytes: [u8; MacOutput::MAX],
    len: usize,
}

impl MacOutput {
    /// The longest output: HMAC-SHA-384.
    const MAX: usize = 48;

    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

impl Drop for MacOutput {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.bytes);
    }
}

/// RFC 8009 §3 KDF-HMAC-SHA2(key, label, k): one counter block is enough for every
/// length the profiles use (k ≤ 384 bits).
pub(super) fn kdf_hmac_sha2(
    hash: Hash,
    key: &[u8],
    label: &[u8],
    out_bytes: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mac = KeyedMac::new(hash, key)?;
    let bits = ((out_bytes * 8) as u32).to_be_bytes();
    let full = mac.compute(&[&1u32.to_be_bytes(), label, &[0], &bits]);
    full.as_slice()
        .get(..out_bytes)
        .map(|k| Zeroizing::new(k.to_vec()))
        .ok_or(CryptoError::KeyLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn nfold_matches_rfc3961_vectors() {
        let cases: [(&str, usize, &str); 8] = [
            ("012345", 8, "be072631276b1955"),
            ("password", 7, "78a07b6caf85fa"),
            ("Rough Consensus, and Running Code", 8, "bb6ed30870b7f0e0"),
            ("password", 21, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"),
            (
                "MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
                24,
                "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
            ),
            ("Q", 21, "518a54a215a8452a518a54a215a8452a518a54a215"),
            ("kerberos", 16, "6b65726265726f737b9b5b2b93132b93"),
            (
                "kerberos",
                32,
                "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4",
            ),
        ];
        for (input, len, want) in cases {
            assert_eq!(nfold(input.as_bytes(), len), hex(want), "{input} -> {len}");
        }
    }

    #[test]
    fn cts_round_trips_at_every_length_around_block_boundaries() {
        for key_len in [16, 32] {
            let key = AesKey::new(&vec![7u8; key_len]).expect("key");
            for len in 16..80 {
                let data: Vec<u8> = (0..len as u8).collect();
                let enc = cts_encrypt(&key, &data);
                assert_eq!(enc.len(), len);
                assert_ne!(enc, data);
                assert_eq!(
                    &cts_decrypt(&key, &enc).expect("decrypt")[..],
                    &data[..],
                    "len {len}"
                );
            }
        }
    }

    #[test]
    fn cts_matches_rfc3962_appendix_b() {
        // RFC 3962 Appendix B: AES-128 key "chicken teriyaki", IV zero.
        let key = AesKey::new(b"chicken teriyaki").expect("key");
        let input = hex("4920776f756c64206c696b652074686520");
        assert_eq!(
            cts_encrypt(&key, &input),
            hex("c6353568f2bf8cb4d8a580362da7ff7f97")
        );
        let input = hex("4920776f756c64206c696b65207468652047656e6572616c20476175277320");
        assert_eq!(
            cts_encrypt(&key, &input),
            hex("fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5")
        );
        // And back, from the RFC's ciphertexts.
        for (cipher, plain) in [
            (
                "c6353568f2bf8cb4d8a580362da7ff7f97",
                "4920776f756c64206c696b652074686520",
            ),
            (
                "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
                "4920776f756c64206c696b65207468652047656e6572616c20476175277320",
            ),
        ] {
            assert_eq!(
                &cts_decrypt(&key, &hex(cipher)).expect("decrypt")[..],
                &hex(plain)[..]
            );
        }
    }
}
