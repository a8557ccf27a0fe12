"""Features and outcomes are typed values written and read in one place: round trips."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from loadlens.metrics.feature_keys import Feature, FeatureKind, size_bucket
from loadlens.model.outcome import Outcome, OutcomeKind, capture_failed_key, missing_variable_key

_NAMES = st.text(
    alphabet=st.characters(blacklist_characters="=@", blacklist_categories=("Cs",)), min_size=1
)


@given(st.sampled_from(list(FeatureKind)), _NAMES, st.text())
def test_every_feature_reads_back_as_itself(kind: FeatureKind, name: str, value: str) -> None:
    valued = kind in (
        FeatureKind.QUERY_VALUE,
        FeatureKind.BODY_VALUE,
        FeatureKind.PATH_SEGMENT,
        FeatureKind.VALUE_SHAPE,
        FeatureKind.VALUE,
        FeatureKind.SOURCE,
    )
    feature = Feature(kind, name, value if valued else "")
    assert Feature.parse(feature.key) == feature


def test_feature_texts_are_the_documented_ones() -> None:
    assert Feature.parse("qv:sort=price") == Feature(FeatureKind.QUERY_VALUE, "sort", "price")
    assert Feature.parse("src:id@create") == Feature(FeatureKind.SOURCE, "id", "create")
    assert Feature.parse("overlap:/docs/1") == Feature(FeatureKind.OVERLAP, "/docs/1")
    assert Feature.parse("v:token=abc=") == Feature(FeatureKind.VALUE_SHAPE, "token", "abc=")
    assert Feature.parse("other") is None and Feature.parse("zz:new") is None
    assert Feature.parse("rq:12") == Feature(FeatureKind.REQUEST_SIZE, "12")
    assert Feature(FeatureKind.REQUEST_SIZE, "12").describe() == "request of 4 KiB–8 KiB"
    assert [size_bucket(n) for n in (0, 1, 2, 4095, 4096)] == [0, 0, 1, 11, 12]


def test_one_broken_chain_has_one_variable_whichever_outcome_names_it() -> None:
    captured = Outcome.parse(capture_failed_key("id"))
    missing = Outcome.parse(missing_variable_key("id", "create"))
    assert captured is not None and missing is not None
    assert captured.variable == missing.variable == "id"
    assert missing.step == "create" and missing.key == "missing_variable:id@create"
    assert Outcome.parse("missing_variable:id") == Outcome(
        OutcomeKind.MISSING_VARIABLE, variable="id"
    )


def test_outcome_classes() -> None:
    server = Outcome.parse("status:503")
    assert server is not None and server.is_server_error and not server.is_success
    ok = Outcome.parse("ok:409")
    assert ok is not None and ok.is_success and ok.status == 409
    assert Outcome.parse("error:reset") == Outcome(OutcomeKind.TRANSPORT, detail="reset")
    assert Outcome.parse("nonsense:1") is None and Outcome.parse("status:abc") is None
