from datetime import datetime, timezone

from audiomuse.providers.scrobbler_log import parse_scrobbler_log, plays_to_tracks

LOG = """#AUDIOSCROBBLER/1.1
#TZ/UTC
#CLIENT/Rockbox sansaclipplus $Revision$
Battle Band\tEpic Album\tThe Charge\t1\t245\tL\t1767225600\t
Battle Band\tEpic Album\tThe Charge\t1\t245\tL\t1767312000
The Quiet\tNight\tDrift (Remastered)\t3\t300\tL\t1767398400\t
Battle Band\tEpic Album\tSkipped Song\t2\t200\tS\t1767400000\t
broken line without tabs
Battle Band\tEpic Album\tBad Time\t4\t100\tL\tnot-a-time\t
Unknown\tX\tNot In Library\t1\t100\tL\t1767400000\t
"""


def test_parse_skips_headers_skips_and_malformed_lines():
    plays = parse_scrobbler_log(LOG)
    assert [p.title for p in plays] == ["The Charge", "The Charge", "Drift (Remastered)", "Not In Library"]
    assert plays[0].played_at == datetime(2026, 1, 1, tzinfo=timezone.utc)


def test_plays_match_library_by_song_key_and_rank_by_count():
    tracks = [("t1", "Battle Band", "The Charge"), ("t2", "Quiet", "Drift"), ("t3", "Other", "Song")]
    played = plays_to_tracks(parse_scrobbler_log(LOG), tracks)
    assert [(p.track_id, p.play_count) for p in played] == [("t1", 2), ("t2", 1)]
    assert played[0].last_played == datetime(2026, 1, 2, tzinfo=timezone.utc)
