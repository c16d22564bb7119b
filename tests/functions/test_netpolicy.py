"""The SSRF policy of ctx.http as a pure function: which URLs pass, and in what form."""

import pytest

from functions.netpolicy import Refused, check_url, parse_allowlist


def public(host, port):
    return ["93.184.215.14"]


def test_an_allowlisted_host_passes_in_canonical_form():
    target = check_url("HTTPS://API.Example.org./users?overdue=true#x", parse_allowlist(["api.example.org"]), public)
    assert target.url == "https://api.example.org/users?overdue=true"


def test_a_host_entry_without_a_port_allows_any_port():
    target = check_url("http://api.example.org:8080/", parse_allowlist(["api.example.org"]), public)
    assert target.port == 8080


def test_a_host_entry_with_a_port_allows_only_that_port():
    allowlist = parse_allowlist(["api.example.org:8443"])
    assert check_url("https://api.example.org:8443/", allowlist, public).port == 8443
    with pytest.raises(Refused, match="not in FUNCTION_HTTP_ALLOWLIST"):
        check_url("https://api.example.org/", allowlist, public)


def test_subdomains_and_lookalikes_of_an_allowlisted_host_are_refused():
    allowlist = parse_allowlist(["example.org"])
    for url in ("https://api.example.org/", "https://example.org.evil.test/", "https://evilexample.org/"):
        with pytest.raises(Refused):
            check_url(url, allowlist, public)


def test_an_empty_allowlist_allows_nothing():
    with pytest.raises(Refused):
        check_url("https://api.example.org/", [], public)


def test_a_name_resolving_to_any_private_address_is_refused():
    allowlist = parse_allowlist(["api.example.org"])
    with pytest.raises(Refused, match="non-public"):
        check_url("https://api.example.org/", allowlist, lambda h, p: ["93.184.215.14", "10.1.2.3"])


def test_a_loopback_ip_is_allowed_only_when_that_ip_and_port_are_listed():
    allowlist = parse_allowlist(["127.0.0.1:8001"])
    assert check_url("http://127.0.0.1:8001/x", allowlist).url == "http://127.0.0.1:8001/x"
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:8002/x", allowlist)


def test_a_name_resolving_to_an_allowlisted_private_ip_passes():
    allowlist = parse_allowlist(["partner.internal", "10.9.8.7"])
    assert check_url("http://partner.internal/", allowlist, lambda h, p: ["10.9.8.7"]).host == "partner.internal"


@pytest.mark.parametrize("url", [
    "ftp://api.example.org/", "gopher://api.example.org/", "//api.example.org/", "api.example.org/x",
    "http://user:pw@api.example.org/", "http://api.example.org\\@evil.test/", "http://api.example.org /",
    "http://api.example.org:99999/", "http://xn--/", "http://[::1/",
])
def test_odd_urls_are_refused(url):
    with pytest.raises(Refused):
        check_url(url, parse_allowlist(["api.example.org"]), public)


def test_ipv6_entries_are_compared_canonically():
    allowlist = parse_allowlist(["[2001:db8:0:0::1]:443"])
    assert check_url("https://[2001:db8::1]/", allowlist).url == "https://[2001:db8::1]/"
