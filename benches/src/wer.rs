//! Word error counting: Levenshtein alignment of normalised word sequences.

use serde::Serialize;

/// Word errors of one or more hypotheses against their references.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub reference_words: usize,
}

impl Errors {
    /// Substitutions + deletions + insertions.
    pub fn total(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Word error rate as a fraction: total errors / reference words (0 for an empty reference
    /// with an empty hypothesis; every inserted word counts as a whole error otherwise).
    pub fn rate(&self) -> f64 {
        match (self.total(), self.reference_words) {
            (0, _) => 0.0,
            (e, 0) => e as f64,
            (e, n) => e as f64 / n as f64,
        }
    }

    /// Adds `other`'s counts: corpus WER is the sum of errors over the sum of reference words.
    pub fn add(&mut self, other: Errors) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.reference_words += other.reference_words;
    }
}

/// Counts the errors of `hypothesis` against `reference`, both whitespace-separated words.
pub fn score(reference: &str, hypothesis: &str) -> Errors {
    let r: Vec<&str> = reference.split_whitespace().collect();
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    align(&r, &h)
}

/// A minimum-edit alignment of word sequences; among equally short alignments, the one found by
/// preferring match/substitution, then deletion, then insertion when tracing back.
pub fn align(reference: &[&str], hypothesis: &[&str]) -> Errors {
    let (n, m) = (reference.len(), hypothesis.len());
    let width = m + 1;
    // cost[i * width + j]: edits turning reference[..i] into hypothesis[..j].
    let mut cost = vec![0usize; (n + 1) * width];
    for (j, c) in cost.iter_mut().take(width).enumerate() {
        *c = j;
    }
    for i in 1..=n {
        cost[i * width] = i;
        for j in 1..=m {
            let diagonal =
                cost[(i - 1) * width + j - 1] + usize::from(reference[i - 1] != hypothesis[j - 1]);
            let deletion = cost[(i - 1) * width + j] + 1;
            let insertion = cost[i * width + j - 1] + 1;
            cost[i * width + j] = diagonal.min(deletion).min(insertion);
        }
    }
    let mut errors = Errors {
        reference_words: n,
        ..Errors::default()
    };
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let here = cost[i * width + j];
        if i > 0 && j > 0 {
            let differs = reference[i - 1] != hypothesis[j - 1];
            if cost[(i - 1) * width + j - 1] + usize::from(differs) == here {
                errors.substitutions += usize::from(differs);
                i -= 1;
                j -= 1;
                continue;
            }
        }
        if i > 0 && cost[(i - 1) * width + j] + 1 == here {
            errors.deletions += 1;
            i -= 1;
        } else {
            errors.insertions += 1;
            j -= 1;
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(
        substitutions: usize,
        deletions: usize,
        insertions: usize,
        reference_words: usize,
    ) -> Errors {
        Errors {
            substitutions,
            deletions,
            insertions,
            reference_words,
        }
    }

    #[test]
    fn identical_texts_have_no_errors() {
        assert_eq!(score("the cat sat", "the  cat\tsat"), e(0, 0, 0, 3));
        assert_eq!(score("", ""), e(0, 0, 0, 0));
        assert_eq!(score("", "").rate(), 0.0);
    }

    #[test]
    fn substitution() {
        let got = score("the cat sat on the mat", "the bat sat on the mat");
        assert_eq!(got, e(1, 0, 0, 6));
        assert!((got.rate() - 1.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn deletion() {
        assert_eq!(
            score("the cat sat on the mat", "the cat on the mat"),
            e(0, 1, 0, 6)
        );
        assert_eq!(score("a b c", ""), e(0, 3, 0, 3));
    }

    #[test]
    fn insertion() {
        assert_eq!(score("the cat sat", "the fat cat sat down"), e(0, 0, 2, 3));
        let only_inserted = score("", "hello there");
        assert_eq!(only_inserted, e(0, 0, 2, 0));
        assert_eq!(only_inserted.rate(), 2.0);
    }

    #[test]
    fn mixed_errors_take_the_shortest_alignment() {
        // a=a, b→x (S), c=c, d deleted (D), e=e, f=f, g inserted (I): 3 errors; matching word
        // for word would take 4 substitutions.
        let got = score("a b c d e f", "a x c e f g");
        assert_eq!(got, e(1, 1, 1, 6));
        assert!((got.rate() - 0.5).abs() < 1e-12);
        // Where a substitution and a deletion + insertion cost the same, the count is the minimum.
        assert_eq!(score("a b c d e", "a x c e f").total(), 3);
    }

    #[test]
    fn corpus_rate_sums_errors_and_words() {
        // 1 error in 10 words and 1 error in 2 words: corpus 2/12, not the mean of 10 % and 50 %.
        let mut total = Errors::default();
        total.add(score(
            "one two three four five six seven eight nine ten",
            "one two three four five six seven eight nine",
        ));
        total.add(score("hello world", "hello word"));
        assert_eq!(total, e(1, 1, 0, 12));
        assert!((total.rate() - 2.0 / 12.0).abs() < 1e-12);
    }
}
