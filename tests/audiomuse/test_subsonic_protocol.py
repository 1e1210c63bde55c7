"""The Subsonic protocol: method names, the envelope in JSON, JSONP and XML, request parameters."""

from __future__ import annotations

import json
import xml.dom.minidom

import pytest

from audiomuse import subsonic_protocol as protocol
from audiomuse.subsonic_protocol import ServerInfo, SubsonicError, render


def test_method_names_with_and_without_view_suffix():
    assert protocol.method_name("ping.view") == "ping" and protocol.method_name("ping") == "ping"


def test_json_envelope_mirrors_the_upstream():
    info = ServerInfo.from_response({"status": "ok", "version": "1.16.1", "type": "navidrome", "serverVersion": "0.62"})
    content, ctype = protocol.render(protocol.ok_body(info, {"sonicMatch": []}), "json")
    assert ctype == "application/json"
    assert json.loads(content) == {"subsonic-response": {
        "status": "ok", "version": "1.16.1", "type": "navidrome", "serverVersion": "0.62", "openSubsonic": True,
        "sonicMatch": []}}
    content, ctype = protocol.render(protocol.error_body(info, 70, "gone"), "jsonp", "cb")
    assert ctype == "text/javascript" and content.startswith(b"cb(") and content.endswith(b");")
    assert json.loads(content[3:-2])["subsonic-response"]["error"] == {"code": 70, "message": "gone"}


def test_count_and_required_parameters():
    assert protocol.parse_count(None, 10, 0, 500) == 10
    assert protocol.parse_count("9999", 10, 0, 500) == 500
    with pytest.raises(SubsonicError) as err:
        protocol.parse_count("ten", 10, 0, 500)
    assert err.value.code == protocol.GENERIC
    with pytest.raises(SubsonicError) as err:
        protocol.required({"id": ""}, "id")
    assert err.value.code == protocol.MISSING_PARAMETER and "id" in err.value.message


def test_error_of_a_failed_answer_and_one_that_names_no_code():
    assert protocol.error_of({"status": "failed", "error": {"code": "40", "message": "Wrong"}}) == (40, "Wrong")
    assert protocol.error_of({"status": "failed", "error": {"code": "x"}}) == (0, "unknown error")
    assert protocol.error_of({"status": "failed"}) == (0, "unknown error")


def test_parse_response_accepts_only_subsonic_json():
    assert protocol.parse_response(b'{"subsonic-response": {"status": "ok"}}') == {"status": "ok"}
    for content in (b"<html/>", b'{"other": 1}', b"[1]"):
        with pytest.raises(ValueError):
            protocol.parse_response(content)


def test_render_never_echoes_script_and_keeps_xml_well_formed():
    body = {"status": "ok", "song": {"title": "junk\x01tag\x1f"}}
    text, kind = render(body, "jsonp", "</script><svg onload=alert(1)>//")
    assert kind == "application/json" and b"script" not in text  # a bad callback is not echoed
    assert render(body, "jsonp", "cb_1.x")[0].startswith(b"cb_1.x(")
    xml_text, _ = render(body, "xml")
    assert xml.dom.minidom.parseString(xml_text).getElementsByTagName("song")[0].getAttribute("title") == \
        "junk\ufffdtag\ufffd"
