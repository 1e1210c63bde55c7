"""The Subsonic protocol: method names, the envelope in JSON, JSONP and XML (ours, and the OpenSubsonic
fields added to the upstream's), request parameters."""

from __future__ import annotations

import json
import xml.dom.minidom
import xml.etree.ElementTree as ET

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


# The OpenSubsonic envelope on answers that are not ours ------------------------------------------
def test_own_answers_carry_audiomuses_server_version():
    from importlib import metadata

    assert protocol.SERVER_VERSION == metadata.version("audiomuse")
    assert ServerInfo().envelope("ok") == {"status": "ok", "version": protocol.API_VERSION, "type": "audiomuse",
                                           "serverVersion": protocol.SERVER_VERSION, "openSubsonic": True}
    supysonic = ServerInfo.from_response({"status": "ok", "version": "1.12.0"})
    assert (supysonic.version, supysonic.type, supysonic.server_version) == ("1.12.0", "audiomuse",
                                                                            protocol.SERVER_VERSION)


def test_with_envelope_adds_only_what_is_missing_and_keeps_the_order():
    body = {"status": "ok", "version": "1.12.0", "openSubsonic": False, "album": {"id": "1"}}
    assert list(protocol.with_envelope(body).items()) == [
        ("status", "ok"), ("version", "1.12.0"), ("type", "audiomuse"), ("serverVersion", protocol.SERVER_VERSION),
        ("openSubsonic", True), ("album", {"id": "1"})]
    navidrome = {"status": "ok", "version": "1.16.1", "type": "navidrome", "serverVersion": "0.61.2",
                 "openSubsonic": True}
    assert protocol.with_envelope(navidrome) == navidrome and list(protocol.with_envelope(navidrome)) == list(navidrome)


def test_add_envelope_json_and_jsonp():
    out = json.loads(protocol.add_envelope(b'\xef\xbb\xbf {"subsonic-response": {"status": "failed", "version": '
                                           b'"1.12.0", "error": {"code": 40, "message": "W\\u00e9"}}, "x": 1}'))
    assert list(out) == ["subsonic-response", "x"]
    body = out["subsonic-response"]
    assert body["error"] == {"code": 40, "message": "W\u00e9"} and body["openSubsonic"] is True
    assert body["type"] == "audiomuse" and body["serverVersion"] == protocol.SERVER_VERSION
    jsonp = protocol.add_envelope('my.cb({"subsonic-response": {"status": "ok", "version": "1.12.0", '
                                  '"t": "\u00e9"}});\n'.encode("latin-1"), "ISO-8859-1")
    assert jsonp.startswith(b"my.cb(") and jsonp.endswith(b");\n")
    assert json.loads(jsonp[6:-3].decode("latin-1"))["subsonic-response"]["t"] == "\u00e9"
    for content in (b"", b"[1]", b'{"other": 1}', b'{"subsonic-response": "ok"}', b"{not json",
                    b'alert(1); cb({"subsonic-response": {}})', b"\x89PNG\r\n", b"<html><body/></html>"):
        assert protocol.add_envelope(content) is None, content


def test_add_envelope_xml_touches_the_root_start_tag_only(monkeypatch):
    document = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE subsonic-response>\n<?pi x?>\n'
                '<sub:subsonic-response xmlns:sub="http://subsonic.org/restapi" status=\'ok\' version="1.12.0"'
                ' openSubsonic="false" note="a &gt; b" >\n  <sub:song title="x&quot;y" openSubsonic="no"/>'
                '</sub:subsonic-response>').encode()
    out = protocol.add_envelope(document)
    expected = document.replace(b' openSubsonic="false"', b' openSubsonic="true"', 1).replace(
        b'note="a &gt; b"', f'note="a &gt; b" type="audiomuse" serverVersion="{protocol.SERVER_VERSION}"'.encode(), 1)
    assert out == expected
    root = ET.fromstring(out)
    assert root.get("openSubsonic") == "true" and root[0].get("openSubsonic") == "no"
    monkeypatch.setattr(protocol, "SERVER_VERSION", '1 & "2" <3> \u00e9')
    root = ET.fromstring(protocol.add_envelope(b"<subsonic-response status='ok' version='1.12.0'/>"))
    assert root.get("serverVersion") == '1 & "2" <3> \u00e9'
    kept = b'<subsonic-response status="ok" version="1.16.1" type="navidrome" serverVersion="0.61.2" openSubsonic="true"/>'
    assert protocol.add_envelope(kept) == kept
    for content in (b"<subsonic-responses/>", b"<other><subsonic-response/></other>", b"<subsonic-response a=1/>",
                    "<subsonic-response/>".encode("utf-16"), b"<subsonic-response status='ok'"):
        assert protocol.add_envelope(content) is None, content
