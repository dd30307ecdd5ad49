//! PURE: which interfaces to keep, by `--include` and `--exclude` globs.
//!
//! With no `--include`, every interface is included; `--exclude` then removes some. A glob
//! matches the whole name; `*` stands for any run of characters (none included), `?` for exactly
//! one, and every other character for itself.

/// The `--include` and `--exclude` globs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Keep only names matching one of these; all names if empty.
    pub include: Vec<String>,
    /// Then drop names matching one of these.
    pub exclude: Vec<String>,
}

impl Filter {
    /// Whether `name` is kept.
    pub fn keeps(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob_matches(g, name)))
            && !self.exclude.iter().any(|g| glob_matches(g, name))
    }
}

/// Whether `glob` matches all of `name`. Linear in practice: it backtracks only to the last `*`.
/// It walks both strings by byte offset, one character at a time, and allocates nothing: the
/// sampler calls it for every interface on every tick.
pub fn glob_matches(glob: &str, name: &str) -> bool {
    let (mut g, mut n) = (0, 0);
    // Where the last `*` was, and the name offset it is currently taken to end at.
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = name[n..].chars().next() {
        match glob[g..].chars().next() {
            Some('*') => {
                star = Some((g, n));
                g += 1;
            }
            Some(p) if p == '?' || p == c => {
                g += p.len_utf8();
                n += c.len_utf8();
            }
            _ => match star {
                // Let the last `*` take one more character, and try again after it.
                Some((star_g, star_n)) => {
                    let taken = name[star_n..].chars().next().map_or(1, char::len_utf8);
                    star = Some((star_g, star_n + taken));
                    g = star_g + 1;
                    n = star_n + taken;
                }
                None => return false,
            },
        }
    }
    glob[g..].chars().all(|c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::exact("eth0", "eth0", true)]
    #[case::exact_differs("eth0", "eth1", false)]
    #[case::prefix_is_not_enough("eth", "eth0", false)]
    #[case::star_suffix("eth*", "eth0.2", true)]
    #[case::star_matches_nothing("eth*", "eth", true)]
    #[case::star_prefix("*-wan", "pppoe-wan", true)]
    #[case::star_middle("wl*0", "wlan0", true)]
    #[case::star_middle_fails("wl*0", "wlan1", false)]
    #[case::question("veth?", "veth1", true)]
    #[case::question_needs_one("veth?", "veth", false)]
    #[case::question_only_one("veth?", "veth12", false)]
    #[case::two_stars("*a*b*", "xxaxxbxx", true)]
    #[case::backtracking("*ab", "aab", true)]
    #[case::star_alone("*", "anything", true)]
    #[case::empty_glob("", "eth0", false)]
    #[case::colon_and_dot("team0:*", "team0:1", true)]
    #[case::unicode("wl?n0", "wlän0", true)]
    fn globs(#[case] glob: &str, #[case] name: &str, #[case] matches: bool) {
        assert_eq!(glob_matches(glob, name), matches, "{glob} vs {name}");
    }

    #[test]
    fn include_then_exclude() {
        let everything = Filter::default();
        assert!(everything.keeps("veth1234"));
        let filter = Filter {
            include: vec!["eth*".into(), "wlan?".into()],
            exclude: vec!["eth0.*".into()],
        };
        assert!(filter.keeps("eth0"));
        assert!(filter.keeps("wlan1"));
        assert!(!filter.keeps("eth0.2"));
        assert!(!filter.keeps("lo"));
        let no_veth = Filter {
            include: vec![],
            exclude: vec!["veth*".into(), "docker?".into()],
        };
        assert!(no_veth.keeps("lo"));
        assert!(!no_veth.keeps("veth9a8b"));
        assert!(!no_veth.keeps("docker0"));
    }
}
