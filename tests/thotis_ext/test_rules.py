"""Pure domain rules of SPEC.md §2, property-tested."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from thotis_ext import rules


class TestBio:
    @given(st.text(min_size=0, max_size=1200))
    def test_property_10_excerpt_is_the_first_150_characters(self, bio: str) -> None:
        excerpt = rules.bio_excerpt(bio)
        assert excerpt == bio[:150] and len(excerpt) == min(150, len(bio))

    @given(st.text(max_size=1100))
    def test_length_rule_counts_characters_after_trimming(self, bio: str) -> None:
        trimmed = rules.normalise_bio(bio)
        assert (rules.bio_length_problem(trimmed) is None) == (50 <= len(trimmed) <= 1000)


class TestRatings:
    @given(st.lists(st.integers(1, 5), max_size=200))
    def test_average_is_the_mean_rounded_half_up_to_one_decimal(self, ratings: list[int]) -> None:
        average = rules.average_rating(ratings)
        if not ratings:
            assert average is None
            return
        exact = Fraction(sum(ratings), len(ratings))
        assert average is not None
        assert abs(Fraction(average) - exact) <= Fraction(1, 20)
        # half-up: exactly .x5 rounds away from zero
        assert Fraction(average) == Fraction(int(exact * 10 + Fraction(1, 2)), 10)
        assert rules.average_from_sum(sum(ratings), len(ratings)) == average

    def test_half_rounds_up(self) -> None:
        assert rules.average_rating([4, 5, 4, 5]) == Decimal("4.5")
        assert rules.average_rating([1, 2, 2, 2]) == Decimal("1.8")  # 1.75 → 1.8
        assert rules.average_rating([2, 2, 2, 3]) == Decimal("2.3")  # 2.25 → 2.3

    @given(st.integers(-3, 8))
    def test_low_rating_is_below_three(self, rating: int) -> None:
        assert rules.is_low_rating(rating) == (rating < 3)


class TestRates:
    @given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000))
    def test_rates_follow_the_formulas(self, completed: int, cancelled: int, no_show: int) -> None:
        cancel = rules.cancellation_rate(completed, cancelled)
        complete = rules.completion_rate(completed, cancelled, no_show)
        assert cancel == (cancelled / (completed + cancelled) if completed + cancelled else 0)
        assert complete == (completed / (completed + cancelled + no_show) if completed + cancelled + no_show else 0)
        assert 0 <= cancel <= 1 and 0 <= complete <= 1


class TestFields:
    @given(st.integers(-100, 100))
    def test_year_range(self, year: int) -> None:
        assert rules.is_valid_year(year) == (1 <= year <= 10)

    @given(st.from_regex(r"https://([a-z]{1,5}\.)?linkedin\.com/in/[a-z0-9-]{1,20}", fullmatch=True))
    def test_linkedin_urls_are_accepted(self, url: str) -> None:
        assert rules.is_linkedin_url(url)

    @given(st.from_regex(r"(http|ftp)://[a-z]{1,10}\.(com|org)/[a-z]{0,10}", fullmatch=True))
    def test_other_urls_are_refused(self, url: str) -> None:
        assert not rules.is_linkedin_url(url)

    @given(st.text(max_size=40))
    def test_escape_like_leaves_no_bare_wildcards(self, text: str) -> None:
        escaped = rules.escape_like(text)
        i = 0
        while i < len(escaped):
            if escaped[i] == "\\":
                i += 2
                continue
            assert escaped[i] not in "%_"
            i += 1


class TestWebUrls:
    @given(st.from_regex(r"https?://[a-z]{1,10}\.(com|org)(/[a-z0-9-]{0,10})?", fullmatch=True))
    def test_http_links_are_kept(self, url: str) -> None:
        assert rules.web_url(f"  {url} ") == url

    @given(
        scheme=st.sampled_from(
            ["javascript:", "JavaScript:", " javascript:", "data:text/html,", "vbscript:", "file://"]
        ),
        rest=st.text(max_size=30),
    )
    def test_script_and_other_schemes_are_dropped(self, scheme: str, rest: str) -> None:
        assert rules.web_url(scheme + rest) is None

    def test_hostless_or_empty_links_are_dropped(self) -> None:
        for url in (None, "", "   ", "https://", "http:///path", "//example.org/x", "meet.google.com/abc"):
            assert rules.web_url(url) is None
