"""The random streams' salts are distinct, so no two streams of one seed draw the same numbers."""

from bmrun import streams


def test_every_stream_has_its_own_salt():
    assert len(streams.ALL) >= 6
    assert len(set(streams.ALL.values())) == len(streams.ALL)
