"""Bad input found by the fresh review (issue 11, input hardening), one test per kind.

"Nothing lost": bad input gets a clear error naming the field, flag, file or line, the
documented exit code (64 for ``cleanup run``), never a traceback.  Kinds:

1. numbers as texts: flags and policy files read only ASCII digits with one optional
   sign (and Python's decimal float syntax without underscores), not whatever
   ``int()``/``float()`` accept (``1_0``, full-width or Arabic-Indic digits);
2. a nameserver port of thousands of digits (past Python's int-from-text limit);
3. wrong types given to ``RepoClient`` and ``Policy``;
4. the controller's 30 s ``http.Client`` timeout, one constant for all three defaults.
"""

from __future__ import annotations

import inspect
import io
import re
from pathlib import Path

import httpx
import pytest

from cleanup import (
    HTTP_CLIENT_TIMEOUT,
    PRESETS,
    Backoff,
    Policy,
    PolicyError,
    RepoClient,
    ResolvConfError,
    StubResolver,
    get_policy,
    make_http_client,
    parse_duration,
    retriable_v15,
)
from cleanup._cli import build_parser, main
from cleanup.testing import FastForwardClock

BASE = ["run", "--repo-url=http://repo.test", "--previous-version=v1.4.1"]
HUGE = "9" * 5000  # past Python's 4300-digit limit on reading an int from text


def run(*flags: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*BASE, *flags], clock=FastForwardClock(), stdout=out, stderr=err)
    return code, err.getvalue()


# --- 1. numbers as texts --------------------------------------------------------------------

#: texts Python's int() reads and an integer text (one sign, ASCII digits) is not
NOT_INTEGERS = ["1_0", "\uff110", "\u0661\u0660", "+-1", "1__0", "\u00b2"]
#: texts Python's float() reads and a decimal text is not
NOT_DECIMALS = ["1_0", "0.2_5", "1e1_0", "\uff11", "\u0661.5", "+-1"]


@pytest.mark.parametrize("text", NOT_INTEGERS)
@pytest.mark.parametrize("flag", ["--steps", "--ndots", "--seed"])
def test_whole_number_flags_read_only_ascii_digits(flag: str, text: str) -> None:
    code, err = run(f"{flag}={text}")
    assert code == 64
    assert err == f"cleanup: argument {flag}: {text!r} is not a whole number\n"


@pytest.mark.parametrize("text", NOT_DECIMALS)
@pytest.mark.parametrize(
    "flag", ["--factor", "--jitter", "--duration", "--cap", "--deadline", "--http-timeout"]
)
def test_decimal_flags_read_only_ascii_decimal_syntax(flag: str, text: str) -> None:
    code, err = run(f"{flag}={text}")
    assert code == 64
    assert err.startswith(f"cleanup: argument {flag}: {text!r} "), err
    assert "Traceback" not in err and err.count("\n") == 1


def test_steps_1_0_is_not_ten_attempts() -> None:
    """The reviewer's example: ``--steps=1_0`` ran 10 attempts."""
    code, err = run("--steps=1_0")
    assert (code, err) == (64, "cleanup: argument --steps: '1_0' is not a whole number\n")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HUGE, f"'{HUGE[:37]}...' is more than 1000000"),
        ("-" + HUGE, f"'-{HUGE[:36]}...' is less than 1"),
    ],
)
def test_steps_past_pythons_digit_limit_is_beyond_its_bound(text: str, message: str) -> None:
    assert run(f"--steps={text}") == (64, f"cleanup: argument --steps: {message}\n")


def test_ndots_past_pythons_digit_limit_is_clamped_like_any_large_ndots() -> None:
    args = build_parser().parse_args([*BASE, f"--ndots={HUGE}"])
    assert args.ndots == 15


def test_seed_past_pythons_digit_limit_is_refused_naming_the_flag() -> None:
    code, err = run(f"--seed={HUGE}")
    assert code == 64
    assert err.startswith("cleanup: argument --seed: ") and "more than 4300 digits" in err


@pytest.mark.parametrize(
    ("flag", "text", "value"),
    [
        ("--steps", " +7 ", 7),
        ("--seed", "-3", -3),
        ("--factor", "1E-1", 0.1),
        ("--jitter", " .5", 0.5),
        ("--duration", "2.", 2.0),
        ("--cap", "1e1", 10.0),
    ],
)
def test_ascii_numbers_with_sign_point_exponent_and_spaces_are_read(
    flag: str, text: str, value: float
) -> None:
    args = build_parser().parse_args([*BASE, f"{flag}={text}"])
    assert getattr(args, flag[2:]) == value


@pytest.mark.parametrize("text", ["1_0", "\uff11", "\u0661", "+-1"])
@pytest.mark.parametrize("field", ["factor", "jitter"])
def test_policy_file_number_texts_read_only_ascii_decimal_syntax(
    tmp_path: Path, field: str, text: str
) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[backoff]\nduration = 1.0\n{field} = "{text}"\n', encoding="utf-8")
    with pytest.raises(
        PolicyError, match=rf"^{re.escape(str(path))}: backoff\.{field}: expected a number"
    ):
        get_policy(path)


@pytest.mark.parametrize("text", ["1_0", "\uff11", "\u0661"])
def test_policy_file_steps_text_reads_only_ascii_digits(tmp_path: Path, text: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text(f'[backoff]\nduration = 1.0\nsteps = "{text}"\n', encoding="utf-8")
    with pytest.raises(
        PolicyError, match=rf"^{re.escape(str(path))}: backoff\.steps: expected an integer"
    ):
        get_policy(path)


@pytest.mark.parametrize("text", ["1_0", "\uff11", "\u0661.5", "1_0s"])
def test_duration_texts_read_only_ascii(text: str) -> None:
    with pytest.raises(PolicyError, match=r"^backoff\.duration: .* is not a duration"):
        parse_duration(text, field_name="backoff.duration")


@pytest.mark.parametrize("text", ["\uff11s", "\u0661s", "1\uff10s"])
def test_non_ascii_digits_in_go_syntax_are_no_duration_not_an_overflow(text: str) -> None:
    """Go's "invalid duration" for a non-digit is a syntax error; only ASCII digits
    could have overflowed (a ``\\d`` in the overflow check called these too long)."""
    with pytest.raises(PolicyError) as caught:
        parse_duration(text, field_name="cap")
    assert "is not a duration" in str(caught.value)
    assert "longer than" not in str(caught.value)


@pytest.mark.parametrize("text", ["1_0", "\uff13"])
def test_overrides_read_only_ascii_numbers(text: str) -> None:
    with pytest.raises(PolicyError, match=r"^steps: expected an integer"):
        get_policy("harvester-v1.5", steps=text)
    with pytest.raises(PolicyError, match=r"^factor: expected a number"):
        get_policy("harvester-v1.5", factor=text)


# --- 2. a nameserver port of thousands of digits --------------------------------------------


@pytest.mark.parametrize("port", [HUGE, "0" * 4998 + "53", "000053"])
def test_api_nameserver_port_over_five_digits_is_refused_naming_it(port: str) -> None:
    with pytest.raises(ResolvConfError, match=r"^nameserver '127\.0\.0\.1:0*9*5?3?'.*not 1-65535"):
        StubResolver([f"127.0.0.1:{port}"], clock=FastForwardClock())


def test_cli_nameserver_port_of_thousands_of_digits_exits_64_naming_the_flag() -> None:
    code, err = run(f"--nameserver=127.0.0.1:{HUGE}")
    assert code == 64
    assert err.startswith("cleanup: --nameserver: nameserver '127.0.0.1:999"), err[:80]
    assert "Traceback" not in err


def test_resolv_conf_port_of_thousands_of_digits_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "resolv.conf"
    path.write_text(f"search svc.cluster.local\nnameserver [::1]:{HUGE}\n")
    with pytest.raises(
        ResolvConfError, match=rf"^{re.escape(str(path))} line 2: nameserver '\[::1\]:999"
    ):
        StubResolver.from_resolv_conf(path, clock=FastForwardClock(), hosts=None, ports=True)


def test_five_digit_port_with_leading_zeros_is_read() -> None:
    resolver = StubResolver(["127.0.0.1:00053"], clock=FastForwardClock())
    assert resolver.nameservers == ["127.0.0.1:53"]


# --- 3. wrong types given to RepoClient and Policy ------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"timeout": 10**400}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"max_bytes": "5"}, "max_bytes"),
        ({"max_bytes": None}, "max_bytes"),
        ({"max_bytes": 5.0}, "max_bytes"),
        ({"max_bytes": True}, "max_bytes"),
        ({"max_bytes": 0}, "max_bytes"),
    ],
)
def test_repo_client_refuses_wrong_parameters_naming_them(
    kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{named} must be"):
        RepoClient("http://repo.test", httpx.Client(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", [None, 1, b"v1.4.1"])
def test_list_url_refuses_a_version_that_is_no_text(version: object) -> None:
    client = RepoClient("http://repo.test", httpx.Client())
    with pytest.raises(ValueError, match=r"^version must be a string"):
        client.list_url(version)  # type: ignore[arg-type]


BACKOFF = Backoff(duration=1.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (("p", None, retriable_v15), {}, "backoff"),
        (("p", {"duration": 1.0}, retriable_v15), {}, "backoff"),
        (("p", BACKOFF, "v1.5"), {}, "retriable"),
        (("p", BACKOFF, None), {}, "retriable"),
        ((None, BACKOFF, retriable_v15), {}, "name"),
        (("", BACKOFF, retriable_v15), {}, "name"),
        (("p", BACKOFF, retriable_v15), {"predicate": None}, "predicate"),
    ],
)
def test_policy_refuses_wrong_fields_naming_them(
    args: tuple[object, ...], kwargs: dict[str, object], named: str
) -> None:
    with pytest.raises(PolicyError, match=rf"^{named} must be"):
        Policy(*args, **kwargs)  # type: ignore[arg-type]


def test_presets_are_still_policies() -> None:
    assert all(isinstance(policy, Policy) for policy in PRESETS.values())


# --- 4. the controller's 30 s http.Client timeout, one constant -----------------------------


def test_http_client_timeout_is_the_controllers_30_seconds() -> None:
    # the reference: "Each HTTP attempt has a 30 s client timeout"
    assert HTTP_CLIENT_TIMEOUT == 30.0


def test_every_default_http_timeout_is_the_constant() -> None:
    assert inspect.signature(RepoClient).parameters["timeout"].default == HTTP_CLIENT_TIMEOUT
    assert inspect.signature(make_http_client).parameters["timeout"].default == HTTP_CLIENT_TIMEOUT
    assert build_parser().parse_args(BASE).http_timeout == HTTP_CLIENT_TIMEOUT
    client = RepoClient("http://repo.test", httpx.Client())
    assert client.timeout == HTTP_CLIENT_TIMEOUT


# --- 1b. a repo URL's port as written (httpx reads it with int()) ---------------------------


@pytest.mark.parametrize("port", ["8_0", "+80", "\uff18\uff10", "\u0668\u0660"])
def test_repo_url_port_reads_only_ascii_digits(port: str) -> None:
    url = f"http://127.0.0.1:{port}"
    want = f'repo URL {url!r} is not a valid URL: parse "{url}": invalid port ":{port}" after host'
    with pytest.raises(ValueError) as caught:
        RepoClient(url, httpx.Client())
    assert str(caught.value) == want  # Go's url.Parse words (validOptionalPort)
    code, err = run(f"--repo-url={url}")
    assert code == 64
    assert err == f"cleanup: --repo-url: {want}\n"
