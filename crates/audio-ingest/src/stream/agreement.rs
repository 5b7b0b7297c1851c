//! Local agreement between hypotheses: where a new hypothesis' uncommitted words begin, and how
//! many of them the previous hypothesis agrees on. Words compare in [`normalize`]d form.

use scribe_core::Word;

use super::hypothesis::normalize;

/// Index in `hyp` where the words not yet committed begin, given the utterance's `committed`
/// words, of which the first `inherited` come from the utterance it continues (they may or may
/// not be in its audio).
///
/// Usually the hypothesis repeats the committed words first. Otherwise the committed words are
/// aligned with a prefix of the hypothesis by a word alignment that rewards agreement: an equal
/// word scores −2, a respelt one −1, a committed word missing from the hypothesis 2, an extra
/// hypothesis word 4 (so that skipping words to reach a repeat of committed ones does not pay:
/// "capital letters, the lower case" after committed "the lower case" is all new), a
/// different word 4, but 1 for the newest committed word when the two words before it agree
/// (it was heard again differently: not a new word); two words written as one or one as two
/// count as equal; leading inherited words may be missing for free. The prefix with the
/// lowest score is skipped, the longer on a tie. Rewarding agreement matters when every
/// committed word is inherited: otherwise "none of them is in this audio" (free) beats a long
/// run of repeated words followed by a few the previous utterance invented at its cut, and the
/// run is committed twice. Word timings are not used: whisper.cpp's are too rough to cut text
/// by.
pub(crate) fn uncommitted_start(hyp: &[Word], committed: &[Word], inherited: usize) -> usize {
    if committed.is_empty() {
        return 0;
    }
    let h: Vec<String> = hyp.iter().map(|w| normalize(&w.word)).collect();
    let c: Vec<String> = committed.iter().map(|w| normalize(&w.word)).collect();
    if h.len() >= c.len() && h[..c.len()] == c[..] {
        return c.len();
    }
    // prev[j]: score of aligning the committed words so far with h[..j]; before[j]: the same
    // without the last of them.
    let mut prev: Vec<i64> = (0..=h.len()).map(|j| EXTRA * j as i64).collect();
    let mut before: Vec<i64> = Vec::new();
    for (i, cw) in c.iter().enumerate() {
        let first = if i < inherited { 0 } else { prev[0] + MISSING };
        let mut cur = vec![first; h.len() + 1];
        for j in 1..=h.len() {
            let newest_after_agreement = i + 1 == c.len()
                && i >= 2
                && j >= 3
                && c[i - 1] == h[j - 2]
                && c[i - 2] == h[j - 3];
            let paired = if newest_after_agreement {
                substitution(cw, &h[j - 1]).min(NEWEST_CHANGED)
            } else {
                substitution(cw, &h[j - 1])
            };
            cur[j] = (prev[j - 1] + paired)
                .min(prev[j] + MISSING)
                .min(cur[j - 1] + EXTRA);
            // Two committed words heard as one ("neplu ultra", then "nepluultra"), or one
            // heard as two: the same words, written apart or together.
            if i >= 1 && joined(&c[i - 1], cw, &h[j - 1]) {
                cur[j] = cur[j].min(before[j - 1] + 2 * EQUAL);
            }
            if j >= 2 && joined(&h[j - 2], &h[j - 1], cw) {
                cur[j] = cur[j].min(prev[j - 2] + EQUAL);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    let best = prev.iter().copied().min().unwrap_or(0);
    prev.iter().rposition(|&d| d == best).unwrap_or(0)
}

/// True when `whole` is `a` and `b` written together.
fn joined(a: &str, b: &str, whole: &str) -> bool {
    whole.len() == a.len() + b.len() && whole.starts_with(a) && whole.ends_with(b)
}

/// Score of a committed word found again in the hypothesis.
const EQUAL: i64 = -2;
/// Score of a committed word respelt in the hypothesis (see [`substitution`]).
const RESPELT: i64 = -1;
/// Score of a committed word paired with a different hypothesis word: better than a missing
/// word plus an extra one.
const DIFFERENT: i64 = 4;
/// Score of a committed word missing from the hypothesis.
const MISSING: i64 = 2;
/// Score of the newest committed word paired with a different hypothesis word when the two
/// words before it agree: the least settled word, heard again differently ("Strasburg, Basil"
/// committed, then "Strasburg, Bezel, Paris"; "printers and" then "printers in Strasburg").
/// Below [`MISSING`], so the new spelling is not taken for a further word and committed too.
const NEWEST_CHANGED: i64 = 1;
/// Score of a hypothesis word with no committed counterpart: two of them cost more than three
/// equal words gain, so skipping two words to reach a repeat of three committed ones does not
/// pay (at 3 it tied, and a tie skips).
const EXTRA: i64 = 4;

/// Score of aligning committed word `a` with hypothesis word `b` (both normalised): −2 when
/// equal, −1 when one is a respelling of the other (words of letters, at least four, character
/// edit distance at most a third of the longer: "colour"/"color", "woodblock"/"woodblocks"),
/// else 4 (better than a missing word plus an extra one). Short words and numbers are never
/// respellings ("cat"/"car", "1462"/"1465").
fn substitution(a: &str, b: &str) -> i64 {
    if a == b {
        return EQUAL;
    }
    let wordy = |w: &str| w.chars().count() >= 4 && w.chars().all(char::is_alphabetic);
    if !wordy(a) || !wordy(b) {
        return DIFFERENT;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for j in 1..=b.len() {
            cur[j] = (prev[j - 1] + usize::from(*ca != b[j - 1]))
                .min(prev[j] + 1)
                .min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    if prev[b.len()] * 3 <= longest {
        RESPELT
    } else {
        DIFFERENT
    }
}

/// Length of the common prefix of `a` and `b`, in normalised words.
pub(crate) fn agreed_len(a: &[Word], b: &[Word]) -> usize {
    a.iter()
        .zip(b)
        .take_while(|(x, y)| normalize(&x.word) == normalize(&y.word))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str, step: u64) -> Vec<Word> {
        text.split_whitespace()
            .enumerate()
            .map(|(i, s)| Word {
                word: s.into(),
                start_ms: i as u64 * step,
                end_ms: i as u64 * step + step - 20,
                confidence: 0.9,
            })
            .collect()
    }

    #[test]
    fn an_exact_prefix_is_skipped_whatever_its_spelling() {
        let committed = words("Ask not what", 300);
        let hyp = words("ask not, what your country", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 3);
        assert_eq!(uncommitted_start(&hyp, &[], 0), 0);
    }

    #[test]
    fn a_changed_committed_word_is_aligned_by_text() {
        let committed = words("ask knot what", 300);
        let hyp = words("ask not what your country", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 3);
        // The last committed word came out respelt: taken as the same word.
        let committed = words("printed with movable", 300);
        let hyp = words("printed with moveable type", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 3);
        // Times play no part: a hypothesis with absurd timings aligns the same.
        let mut odd = hyp.clone();
        odd.iter_mut().for_each(|w| (w.start_ms, w.end_ms) = (0, 0));
        assert_eq!(uncommitted_start(&odd, &committed, 0), 3);
    }

    #[test]
    fn the_newest_committed_word_heard_differently_is_not_committed_again() {
        // eval/long padded by 0.5 s: "Basil" was committed, the next steps heard "Bezel".
        let committed = words("but by printers in Strasburg, Basil,", 300);
        let hyp = words("but by printers in Strasburg, Bezel, Paris, Lubeck", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 6);
        let committed = words("not only by Schofer but by printers and", 300);
        let hyp = words("not only by Schofer but by printers in Strasburg", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 8);
        // Only the newest: an older committed word that differs is still taken as missing.
        let committed = words("ask knot what", 300);
        let hyp = words("ask what your country", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 2);
    }

    #[test]
    fn words_written_together_or_apart_are_the_same_words() {
        // eval/long: "Neplu Ultra" was committed, the next steps wrote "Nepluultra".
        let committed = words("may be considered the Neplu Ultra", 300);
        let hyp = words("may be considered the Nepluultra of gothic type", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 5);
        let committed = words("before the woodcutters", 300);
        let hyp = words("before the wood cutters of the Netherlands", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 4);
    }

    #[test]
    fn a_hypothesis_that_lost_its_first_words_still_aligns() {
        let committed = words("the gothic development of the ancient roman character", 300);
        let hyp = words("of the ancient roman character and which developed", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 5);
        // One that forgot the end of what was committed has nothing new.
        let hyp = words("the gothic development", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 3);
    }

    #[test]
    fn a_dropped_committed_word_does_not_eat_new_words() {
        let committed = words("ask not what", 300);
        let hyp = words("ask what your country", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 2);
        // A repeated word after the committed ones is new speech.
        let hyp = words("ask not what what your", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 3);
        // Committed words that are not there do not swallow new ones.
        let hyp = words("your country asks", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 0), 0);
    }

    #[test]
    fn inherited_words_before_the_cut_are_skipped_for_free() {
        // The previous utterance committed these; only some lie after the cut.
        let inherited = words("now as all books not primarily", 300);
        let hyp = words("intended as picture books consist", 300);
        assert_eq!(uncommitted_start(&hyp, &inherited, 6), 0);
        let hyp = words("books not primarily intended as", 300);
        assert_eq!(uncommitted_start(&hyp, &inherited, 6), 3);
        let hyp = words("as all books not primarily intended", 300);
        assert_eq!(uncommitted_start(&hyp, &inherited, 6), 5);
        // Own committed words after the inherited ones are not free.
        let mut committed = inherited.clone();
        committed.extend(words("intended as", 300));
        let hyp = words("picture books", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 6), 0);
        let hyp = words("primarily intended as picture books", 300);
        assert_eq!(uncommitted_start(&hyp, &committed, 6), 3);
    }

    #[test]
    fn words_invented_at_a_cut_do_not_hide_the_repeated_ones() {
        // The cut utterance's last decode heard "saw the" as "law of the whole"; the next
        // utterance repeats the thirteen words before, then says what was really said.
        // Taking none of the committed words to be in the new audio (free) would commit all
        // thirteen twice; the alignment pairs law/saw and the/the and goes on after them.
        let inherited = words(
            "but on the whole except in italy gothic letter was most often used \
             a very few years law of the whole",
            300,
        );
        let hyp = words(
            "Except in Italy, gothic letter was most often used. A very few years saw the birth",
            300,
        );
        assert_eq!(uncommitted_start(&hyp, &inherited, inherited.len()), 15);
    }

    #[test]
    fn a_repeat_further_on_is_new_speech() {
        let inherited = words("on the side of the lower case", 300);
        for text in [
            "than the capital letters, the lower case being",
            // Two words before the repeat: skipping them tied with "all new" at an extra
            // word's old score of 3, and seven words were lost (eval/long, replayed with an
            // experimental prompt).
            "capital letters, the lower case being in fact in",
        ] {
            let hyp = words(text, 300);
            assert_eq!(
                uncommitted_start(&hyp, &inherited, inherited.len()),
                0,
                "{text}"
            );
        }
    }

    #[test]
    fn agreement_is_case_and_punctuation_blind() {
        let a = words("your country can do", 300);
        let b = words("Your country, can't", 300);
        assert_eq!(agreed_len(&a, &b), 2);
        assert_eq!(agreed_len(&a, &[]), 0);
    }
}
