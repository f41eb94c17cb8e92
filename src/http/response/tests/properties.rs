//! Property-style checks: random and mutated input never panics and
//! never depends on how it was split.
use super::*;

// ---- property-style checks ----

/// xorshift64*: deterministic, so a failure is reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces that make random input look like HTTP often enough to reach
/// deep states.
const FRAGMENTS: [&[u8]; 28] = [
    b"\r\n\r\n",
    b"\n\n",
    b"Content-Length: 5\r\n",
    b"\r\n0\r\n\r\n",
    b"HTTP/1.1 ",
    b"HTTP/1.0 ",
    b"200 OK",
    b"100 Continue",
    b"204",
    b"304",
    b"101",
    b"\r\n",
    b"\n",
    b"\r",
    b"Content-Length: ",
    b"Transfer-Encoding: chunked",
    b"Transfer-Encoding: gzip",
    b"0",
    b"5",
    b"a",
    b"ffffffffffffffffff",
    b";ext=1",
    b": ",
    b"X-A",
    b"hello",
    b" ",
    b"\x00",
    b"\xff",
];

fn random_input(rng: &mut Rng) -> Vec<u8> {
    let mut input = match rng.below(4) {
        0 => Vec::new(),
        1 => b"HTTP/1.1 ".to_vec(),
        _ => b"HTTP/1.1 200 OK\r\n".to_vec(),
    };
    for _ in 0..rng.below(40) {
        if rng.below(4) == 0 {
            input.push(rng.next() as u8);
        } else {
            input.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
    }
    input
}

fn random_pieces<'a>(rng: &mut Rng, input: &'a [u8]) -> Vec<&'a [u8]> {
    let mut pieces = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (piece, tail) = rest.split_at(1 + rng.below(rest.len().min(16)));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

fn check_random_splits(rng: &mut Rng, input: &[u8]) {
    let head_request = rng.below(4) == 0;
    let max = [8, 64, 200, MAX, MAX, MAX][rng.below(6)];
    let whole = run(head_request, max, &[input]);
    let pieces = random_pieces(rng, input);
    assert_eq!(
        run(head_request, max, &pieces),
        whole,
        "input {:?} pieces {pieces:?}",
        String::from_utf8_lossy(input)
    );
    if let Err(error) = whole {
        assert!(!error.to_string().contains('\n'), "one line: {error}");
    }
}

#[test]
fn random_input_never_panics_and_ignores_splitting() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3000 {
        let input = random_input(&mut rng);
        check_random_splits(&mut rng, &input);
    }
}

#[test]
fn mutated_responses_never_panic_and_ignore_splitting() {
    let samples: [&[u8]; 5] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n\r\nclose",
        b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
    ];
    let mut rng = Rng(42);
    for round in 0..3000 {
        let mut input = samples[round % samples.len()].to_vec();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut input);
        }
        check_random_splits(&mut rng, &input);
    }
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>) {
    let at = rng.below(input.len() + 1);
    match rng.below(4) {
        0 if at < input.len() => input[at] = rng.next() as u8,
        1 => {
            let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
            input.splice(at..at, fragment.iter().copied());
        }
        2 => {
            let end = (at + rng.below(8)).min(input.len());
            input.drain(at..end);
        }
        _ => input.truncate(at),
    }
}

#[test]
fn random_bytes_one_at_a_time() {
    let mut rng = Rng(7);
    for _ in 0..500 {
        let input: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let whole = run(false, MAX, &[&input]);
        assert_eq!(bytewise(false, MAX, &input), whole);
    }
}
