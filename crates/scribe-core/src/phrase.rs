//! Comparing recognised words, and finding the phrase loops Whisper produces when it loses
//! track of the audio's end ("…an exact imitation, which are an exact imitation").

/// Shortest phrase whose immediate repetition counts as a decoding loop. Two-word repeats
/// ("yeah, yeah", "I think I think") are ordinary speech; three or more words repeated back
/// to back are what Whisper produces when it loses track of the audio's end.
pub const MIN_LOOP_WORDS: usize = 3;

/// The comparison form of a word: lowercase letters and digits only, so Whisper's changing
/// case and punctuation ("Hello," / "hello.") do not count as a different word.
pub fn comparison_form(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The first phrase of [`MIN_LOOP_WORDS`] or more words (in comparison form) that is
/// immediately repeated, as `(start, length)`: the earliest start, then the shortest length.
pub fn first_repeat(words: &[String]) -> Option<(usize, usize)> {
    (0..words.len()).find_map(|i| {
        (MIN_LOOP_WORDS..=(words.len() - i) / 2)
            .find(|&n| words[i..i + n] == words[i + n..i + 2 * n])
            .map(|n| (i, n))
    })
}

/// The shortest period of the loop `first_repeat` found at `(start, len)`: the smallest `p`
/// with which `words[start..start + 2 * len]` repeats ("printing printing printing printing
/// printing printing" is found as a three-word phrase twice; its period is one word).
/// A span that is not such a loop (it runs past `words`) gives `len`.
pub fn loop_period(words: &[String], start: usize, len: usize) -> usize {
    let end = start + 2 * len;
    if end > words.len() {
        return len;
    }
    (1..len)
        .find(|&p| (start..end - p).all(|i| words[i] == words[i + p]))
        .unwrap_or(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(text: &str) -> Vec<String> {
        text.split_whitespace().map(comparison_form).collect()
    }

    #[test]
    fn the_earliest_shortest_repeat_is_found() {
        assert_eq!(first_repeat(&forms("a b c d e c d e f")), Some((2, 3)));
        assert_eq!(first_repeat(&forms("x a b c a b c a b c")), Some((1, 3)));
        assert_eq!(
            first_repeat(&forms("Shop, to the shop to the SHOP.")),
            Some((0, 3))
        );
        assert_eq!(first_repeat(&forms("yeah yeah I know I know")), None);
        assert_eq!(first_repeat(&[]), None);
    }

    #[test]
    fn a_loop_is_reduced_to_its_period() {
        let words = forms("so printing printing printing printing printing printing");
        assert_eq!(first_repeat(&words), Some((1, 3)));
        assert_eq!(loop_period(&words, 1, 3), 1);
        let words = forms("a b a b a b a b");
        assert_eq!(first_repeat(&words), Some((0, 4)));
        assert_eq!(loop_period(&words, 0, 4), 2);
        let words = forms("a b c d e c d e f");
        assert_eq!(loop_period(&words, 2, 3), 3);
        assert_eq!(loop_period(&words, 6, 3), 3);
    }
}
