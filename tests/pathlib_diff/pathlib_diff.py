#!/usr/bin/env python3
"""Differential test: tetherd::core::PurePath against CPython's pathlib.

Generates cases with a fixed seed (random and adversarial paths of both flavours,
multi-segment joins, with_* arguments, relative_to pairs, match and full_match
patterns), runs them all through one pathlib_oracle process, computes the same
properties with pathlib, and compares every property. Exits 1 on any mismatch (after
printing the first ones), 0 otherwise, and prints the case and comparison counts.

PurePath follows Python 3.13. Under 3.13+ every property is compared. Under an older
Python (3.11 on the build machines) the behaviours that changed since are left out of
the comparison; EXCLUSIONS below lists each with its reason, and the doctest suite
tests them against the documented 3.13 semantics instead.

Usage: pathlib_diff.py --oracle build/default/tests/pathlib_diff/pathlib_oracle
"""
import argparse
import functools
import json
import operator
import os
import random
import subprocess
import sys
import threading
import time
import warnings
from pathlib import PurePosixPath, PureWindowsPath

SEED = 20261125
PY313 = sys.version_info >= (3, 13)

# Properties left out when the Python running this script is older than 3.13, each with
# the reason. Keys are property names, or property names scoped to a flavour.
EXCLUSIONS = {
    # --- not in 3.11 at all ---
    "relative_to_walk_up": "walk_up= was added in 3.12",
    "full_match": "PurePath.full_match() was added in 3.13",
    # --- changed after 3.11 ---
    "is_reserved": "3.13 uses ntpath.isreserved(): every name is checked, trailing dots "
                   "and spaces and the characters \"*:<>?| and controls are reserved; "
                   "3.11 only checks the last name against the device names",
    "match": "3.12 made match() use the glob engine: pattern anchors are matched as "
             "globs and case-insensitivity is re.IGNORECASE; 3.11 lower-cases and uses "
             "fnmatch per part with different anchor rules",
    "cmp": "3.12 orders by str().split(sep) (case-folded), 3.11 by the parts tuple; "
           "they differ when an anchor sorts differently from a name",
}
# Properties compared under 3.11 only for cases where 3.11 and 3.13 agree, decided per
# case by predicates in skip_reasons_311() (see there for each reason).


def enc(text):
    """Bytes (hex) of a path string: UTF-8, surrogate escapes back to raw bytes."""
    return text.encode("utf-8", "surrogateescape").hex()


def dec(hex_text):
    return bytes.fromhex(hex_text).decode("utf-8", "surrogateescape")


def canonical(text):
    """The str that os.fsdecode() gives for this string's bytes (what a POSIX program
    would see), so that escaped bytes forming valid UTF-8 become that character."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------- case generation --

COMMON = ["a", "b", "c", "foo", "bar", "foo.txt", "archive.tar.gz", ".bashrc", "..",
          ".", "...", "a.", "a..b", "x.y.z", ".hidden.txt", "README", "file.TXT",
          "Foo", "FOO", "dir", "src", "main.cpp", "lib.so.1", "..a", "a..", "v1.2."]
UNICODE = ["é", "É", "ü.txt", "日本語", "ß", "ẞ", "İ", "ı", "K", "ǅ", "Ω", "ω", "Ⱥ",
           "naïve.md", "emoji😀", "ﬁle", "ſ", "Straße", "ÀÉÎ", "𐐀", "𐐨", "ΟΔΟΣ", "οδος",
           "οδοσ", "Σ"]
SPECIAL = [" ", "x ", "x.", "a b", "a\tb", "%", "#", "~", "'", '"', "a\x00b", "\x00",
           "\n", "a\nb", "&", "+", "=", ";", ",", "@", "!", "$", "(", ")", "{", "}"]
RESERVED = ["CON", "con", "Con.txt", "PRN", "AUX", "NUL", "nul ", "NUL .txt", "COM1",
            "com9", "COM0", "COM10", "LPT1", "lpt9.log", "COM¹", "lpt²", "LPT³",
            "CONIN$", "conout$", "NUL.", "CON:", "con.tar.gz", "aux ", "COMı", "conın$"]
GLOBBY = ["*", "?", "[a]", "[!a]", "a*", "*.txt", "[abc]", "x[", "]", "[]", "[!]"]
DRIVEY = ["c:", "C:", "x:y", "1:", "é:", "c:x", ":", "a:b:c", "::"]
POSIX_BYTES = ["\udcff", "\udcc3", "a\udcfe", "\udced\udca0\udc80", "\udcc0\udcaf",
               "\udcf4\udc90\udc80\udc80", "\udce2\udc82", "x\udc80y"]

WINDOWS_PREFIXES = ["c:", "C:", "c:\\", "C:/", "d:/", "\\", "/", "\\\\server\\share",
                    "//server/share/", "\\\\Server\\Share\\", "\\\\?\\c:\\", "//?/C:/",
                    "\\\\?\\UNC\\server\\share\\", "//?/unc/srv/shr", "\\\\.\\pipe\\",
                    "\\\\.\\device", "\\\\?\\device", "\\\\server", "\\\\server\\",
                    "\\\\", "\\\\\\", "//", "///x", "\\\\?\\", "\\\\.\\", "//x//y",
                    "\\\\a\\\\b", "é:", "1:", "\\\\?\\UNC\\", "\\\\?\\UNC\\srv",
                    "//?/UNC/srv/", "\\\\server\\share\\\\", "c:.", ".\\c:"]
POSIX_PREFIXES = ["/", "//", "///", "////", "/./", "./", "../", "//./"]


def rand_name(rng, flavour):
    r = rng.random()
    if r < 0.40:
        return rng.choice(COMMON)
    if r < 0.52:
        alphabet = "abcXYZ.-_ ~09"
        return "".join(rng.choices(alphabet, k=rng.randint(1, 10)))
    if r < 0.62:
        return rng.choice(UNICODE)
    if r < 0.72:
        return rng.choice(SPECIAL)
    if r < 0.82:
        return rng.choice(RESERVED)
    if r < 0.88:
        return rng.choice(GLOBBY)
    if r < 0.93:
        return rng.choice(DRIVEY)
    if r < 0.96:
        length = rng.choice([254, 255, 256])
        return "".join(rng.choices("abcdefé", k=length))
    if flavour == "posix":
        return rng.choice(POSIX_BYTES)
    return rng.choice(COMMON)


def rand_sep(rng, flavour):
    if flavour == "posix":
        return rng.choice(["/", "/", "/", "//", "///", "/./", "\\"])
    return rng.choice(["\\", "/", "\\", "/", "\\\\", "//", "/\\", "\\.\\", "/./"])


def rand_path(rng, flavour):
    prefixes = POSIX_PREFIXES if flavour == "posix" else WINDOWS_PREFIXES
    prefix = rng.choice(prefixes) if rng.random() < 0.45 else ""
    count = rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5, 7])
    text = prefix
    for i in range(count):
        if i or (text and text[-1] not in "/\\"):
            text += rand_sep(rng, flavour) if (i or text) else ""
        text += rand_name(rng, flavour)
    if rng.random() < 0.15:
        text += rand_sep(rng, flavour)
    return text


def vary_case(rng, text):
    return "".join(c.swapcase() if rng.random() < 0.3 else c for c in text)


def mutate_pattern_part(rng, part):
    if len(part) > 300:
        # A long literal after a wildcard costs names x pattern length in any matcher
        # (pathlib's regex too); long names get short patterns.
        return rng.choice(["*", part[:3] + "*", "*" + part[-3:], "?" + part[1:4] + "*"])
    r = rng.random()
    if r < 0.2:
        return "*"
    if r < 0.3 and part:
        i = rng.randrange(len(part))
        return part[:i] + "?" + part[i + 1:]
    if r < 0.4 and part:
        i = rng.randrange(len(part))
        return part[:i] + "*" + part[i + 1:]
    if r < 0.5 and part:
        i = rng.randrange(len(part))
        klass = rng.choice(["[a-z]", "[!a]", "[%s]" % part[i], "[!%s]" % part[i], "[z-a]",
                            "[]%s]" % part[i], "[!]", "[a-]", "[-a]", "[%s-%s]" % (part[i], part[i]),
                            "[a-c-e]", "[\\]", "[!b-a]", "[^a]", "[[]"])
        return part[:i] + klass + part[i + 1:]
    if r < 0.6:
        return vary_case(rng, part)
    if r < 0.65:
        return "**"
    return part


def rand_pattern(rng, flavour, path):
    cls = PurePosixPath if flavour == "posix" else PureWindowsPath
    parts = list(cls(*path).parts) if path else []
    r = rng.random()
    if r < 0.1 or not parts:
        return rand_path(rng, flavour)
    if r < 0.13:
        return rng.choice(["", ".", "/", "\\", "**", "*", "**/*", "*/**", "**/**"])
    keep = rng.randint(1, len(parts))
    chosen = parts[-keep:]
    sep = "/" if flavour == "posix" else rng.choice(["\\", "/"])
    out = []
    for i, part in enumerate(chosen):
        if i == 0 and keep == len(parts) and (part.endswith("/") or part.endswith("\\")):
            out.append(part.rstrip("/\\") if rng.random() < 0.2 else part[:-1])
            continue
        out.append(mutate_pattern_part(rng, part))
    text = sep.join(out)
    if keep == len(parts) and parts[0][-1:] in ("/", "\\"):
        # an anchored pattern: keep the anchor's separator
        text = parts[0] + sep.join(out[1:])
    if rng.random() < 0.1:
        text = "**" + sep + text
    return text


def rand_other(rng, flavour, segments):
    cls = PurePosixPath if flavour == "posix" else PureWindowsPath
    path = cls(*segments)
    r = rng.random()
    if r < 0.45:
        ancestors = [path] + list(path.parents)
        chosen = str(rng.choice(ancestors))
        return [vary_case(rng, chosen) if flavour == "windows" and rng.random() < 0.5 else chosen]
    if r < 0.6:
        ancestors = list(path.parents) or [path]
        base = str(rng.choice(ancestors))
        return [base, rng.choice(["x", "..", "a/b", "../y", "..\\..", "z/.."])]
    if r < 0.7:
        return [path.anchor + rand_name(rng, flavour)]
    return [rand_path(rng, flavour) for _ in range(rng.choice([1, 1, 2]))]


WITH_NAMES = ["x", "new.txt", "", ".", "..", "a/b", "a\\b", "c:", "c:x", " ", ".x", "x.",
              "é.md", "/", "\\", "//x", "a\x00", "CON"]
WITH_SUFFIXES = ["", ".", ".txt", "txt", ".a.b", "..", ".a/b", ".\\x", ". ", ".é",
                 "/", ".c:", "..x", "x."]


def rand_segments(rng, flavour):
    count = rng.choice([1, 1, 1, 1, 2, 2, 3, 4])
    segments = [rand_path(rng, flavour) for _ in range(count)]
    if flavour == "posix":
        segments = [canonical(s) for s in segments]
    return segments


def adversarial_cases():
    cases = []
    posix = ["", ".", "..", "/", "//", "///", "////", "/..", "//..", "a/./b", "a//b",
             "./a", "a/.", "a/..", "../..", "/a/../b", "//a//b//", "///a", "a/b/",
             "\x00", "a\x00b/c", "\udcff", "é/\udcc3", ".a", "a.", ".a.b", "a.b.",
             "/" + "x" * 255, "a" * 70000, "/".join(["d"] * 400),
             "/" * 50000 + "z", "\\", "a\\b", "c:/x"]
    windows = ["", ".", "..", "\\", "/", "c:", "C:", "c:\\", "c:/", "c:..", "c:a",
               "c:/a/../b", "\\\\", "\\\\\\", "\\\\\\\\", "\\\\a", "\\\\a\\", "\\\\a\\b",
               "\\\\a\\b\\", "\\\\a\\b\\c", "//a/b/c", "\\\\a\\\\b", "\\\\?\\", "\\\\?\\c:",
               "\\\\?\\c:\\", "\\\\?\\c:\\x", "\\\\?\\UNC", "\\\\?\\UNC\\", "\\\\?\\UNC\\a",
               "\\\\?\\UNC\\a\\b", "\\\\?\\UNC\\a\\b\\c", "\\\\?\\unc\\a\\b", "\\\\.\\",
               "\\\\.\\pipe", "\\\\.\\pipe\\x", "\\\\.\\c:\\x", "//./pipe/x", "\\\\?\\.",
               "\\\\?.\\x\\y", "a:b", "1:x", "é:\\x", "./c:x", ".\\c:", "c:x/d:y",
               "x" * 70000, "\\".join(["d"] * 400), "/" * 50000 + "z", "CON",
               "a\\nul.txt", "c:/a/b.", "c:/a/b ", "\\\\server\\share\\con",
               "c:\\a\x00b", "\\\\srv\\shr\\..\\x"]
    for text in posix:
        cases.append(("posix", [canonical(text)]))
    for text in windows:
        cases.append(("windows", [text]))
    joins = [
        ("posix", ["a", "/b"]), ("posix", ["/a", "//b"]), ("posix", ["", "a"]),
        ("posix", ["a", ""]), ("posix", ["/", ""]), ("posix", ["", ""]),
        ("posix", ["a/", "b"]), ("posix", ["//", "a"]), ("posix", ["a", "///b", "c"]),
        ("windows", ["c:", "d:x"]), ("windows", ["c:a", "C:b"]), ("windows", ["c:a", "c:b"]),
        ("windows", ["c:/a", "/b"]), ("windows", ["c:/a", "d:b"]), ("windows", ["c:/a", "D:/b"]),
        ("windows", ["//srv/shr", "x"]), ("windows", ["//srv", "shr"]),
        ("windows", ["//srv", "shr", "x"]), ("windows", ["\\\\?\\c:", "x"]),
        ("windows", ["a", "c:"]), ("windows", ["", "c:"]), ("windows", ["c:", ""]),
        ("windows", ["c:", "/"]), ("windows", ["/", "c:"]), ("windows", ["\\\\a\\b", "\\x"]),
        ("windows", ["\\\\a\\b", "C:x"]), ("windows", ["x", "\\\\a\\b\\c"]),
        ("windows", ["c:x", "/y", "z"]), ("windows", ["C:", "c:x"]),
        ("windows", ["\\\\srv\\SHR", "\\\\SRV\\shr\\x"]), ("windows", ["a", "b:"]),
        ("windows", ["\\\\?\\UNC\\a", "b"]), ("windows", ["é:x", "É:y"]),
    ]
    cases.extend(joins)
    return cases


def make_cases(count):
    rng = random.Random(SEED)
    cases = []
    for flavour, segments in adversarial_cases():
        cases.append({"f": flavour, "seg": segments})
    while len(cases) < count:
        flavour = rng.choice(["posix", "windows"])
        segments = rand_segments(rng, flavour)
        case = {"f": flavour, "seg": segments}
        cases.append(case)
    fix = (lambda f, s: canonical(s) if f == "posix" else s)
    for case in cases:
        flavour = case["f"]
        segments = case["seg"]
        case["name"] = fix(flavour, rng.choice(WITH_NAMES) if rng.random() < 0.5
                           else rand_name(rng, flavour))
        case["stem"] = fix(flavour, rng.choice(WITH_NAMES) if rng.random() < 0.5
                           else rand_name(rng, flavour))
        case["suffix"] = fix(flavour, rng.choice(WITH_SUFFIXES))
        case["other"] = [fix(flavour, s) for s in rand_other(rng, flavour, segments)]
        case["pattern"] = fix(flavour, rand_pattern(rng, flavour, segments))
        case["full"] = fix(flavour, rand_pattern(rng, flavour, segments))
    return cases


# ----------------------------------------------------------------- pathlib oracle --

def guarded(produce):
    try:
        return produce()
    except ValueError:
        return "!E"


def raw_text(path):
    return "" if str(path) == "." else str(path)


def pathlib_props(case):
    cls = PurePosixPath if case["f"] == "posix" else PureWindowsPath
    segments = case["seg"]
    p = cls(*segments)
    out = {
        "str": enc(str(p)), "drive": enc(p.drive), "root": enc(p.root),
        "anchor": enc(p.anchor), "parts": [enc(x) for x in p.parts],
        "parent": enc(str(p.parent)), "parents": [enc(str(x)) for x in p.parents],
        "name": enc(p.name), "stem": enc(p.stem), "suffix": enc(p.suffix),
        "suffixes": [enc(x) for x in p.suffixes], "as_posix": enc(p.as_posix()),
        "is_absolute": p.is_absolute(),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        out["is_reserved"] = p.is_reserved()
    out["as_uri"] = guarded(lambda: enc(p.as_uri()))
    # Deviation (listed in pure_path.hpp): PurePath joins onto the normalized text of the
    # left side, pathlib onto the raw strings it was built from. They differ only for
    # Windows UNC drives without a root, or spelled with other separators than the
    # drive joined to them. So "join" is pathlib joining each segment to the str() of
    # the path so far (the constructor, which joins raw strings, is compared as "str").
    joined = functools.reduce(lambda path, segment: cls(raw_text(path), segment),
                              segments[1:], cls(segments[0]))
    out["join"] = enc(str(joined))
    reparsed = cls(str(p))
    out["reparse_eq"] = reparsed == p and str(reparsed) == str(p)
    out["parts_eq"] = cls(*p.parts) == p
    out["with_name"] = guarded(lambda: enc(str(p.with_name(case["name"]))))
    out["with_stem"] = guarded(lambda: enc(str(p.with_stem(case["stem"]))))
    out["with_suffix"] = guarded(lambda: enc(str(p.with_suffix(case["suffix"]))))
    q = cls(*case["other"])
    out["relative_to"] = guarded(lambda: enc(str(p.relative_to(q))))
    if PY313 or sys.version_info >= (3, 12):
        out["relative_to_walk_up"] = guarded(lambda: enc(str(p.relative_to(q, walk_up=True))))
    out["is_relative_to"] = p.is_relative_to(q)
    out["eq"] = p == q
    out["cmp"] = -1 if p < q else (1 if p > q else 0)
    out["hash_ok"] = True
    out["match"] = guarded(lambda: p.match(case["pattern"]))
    if PY313:
        out["full_match"] = guarded(lambda: p.full_match(case["full"]))
    return out


# ------------------------------------------------------------ 3.11 vs 3.13 gaps --

NON_BMP_SET = ("CPython's re with IGNORECASE misses characters above U+FFFF listed in a "
               "bracket set (re.match('[a\U00010400]', '\U00010400', re.I) is None); "
               "PurePath matches them")


def skip_reasons(case):
    """Properties of this case not compared, with the reason."""
    skips = {}
    if case["f"] == "windows":
        for key, arg in (("match", "pattern"), ("full_match", "full")):
            if "[" in case[arg] and any(ord(c) > 0xFFFF for c in case[arg]):
                skips[key] = NON_BMP_SET
    skips.update(skip_reasons_311(case))
    return skips


def skip_reasons_311(case):
    """Properties of this case whose 3.11 value is known to differ from 3.13's, with
    the reason. Empty under 3.13. Each rule below names the change it stands for."""
    if PY313:
        return {}
    skips = dict(EXCLUSIONS)
    if case["f"] == "windows":
        texts = list(case["seg"]) + list(case["other"])
        if any(windows_parse_differs(t) for t in texts):
            # 3.12 replaced pathlib's own Windows parser with ntpath.splitroot():
            # incomplete UNC ("\\server"), device paths ("\\.\dev", "\\?\dev"), empty
            # UNC hosts or shares, "\\?\" alone, and any character before ':' as a
            # drive letter parse differently. Every property derives from the parse.
            return {"*": "Windows path parsed differently before 3.12 (ntpath.splitroot)"}
        for segments in (case["seg"], case["other"]):
            anchored_later = any(PureWindowsPath(t).anchor for t in segments[1:])
            unc = any(t.replace("/", "\\").startswith("\\\\") for t in segments)
            if len(segments) > 1 and (anchored_later or unc):
                # 3.11 joins parsed parts (parse_parts), 3.12+ joins the raw strings with
                # ntpath.join: same-drive relative segments append instead of
                # replacing, the later drive's spelling wins, and a UNC share name
                # ending in ':' runs into the next segment.
                return {"*": "Windows join of anchored or UNC segments changed in 3.12"}
        if any(starts_with_drive_name(t) for t in texts):
            # 3.13 shows a relative path whose first name looks like a drive ("c:x") as
            # ".\c:x", so that str() parses back to the same path; 3.11 printed "c:x",
            # which reads back as a drive.
            return {"*": "'.\\' shown before a drive-like first name since 3.13"}
        for key, arg in (("with_name", "name"), ("with_stem", "stem"),
                         ("with_suffix", "suffix")):
            if ":" in case[arg]:
                skips[key] = ("3.13 with_name() accepts any name without a separator, "
                              "3.11 rejected names that parse with a drive ('c:x')")
        path = PureWindowsPath(*case["seg"])
        if path.drive.startswith("\\\\") and not path.root:
            skips["is_absolute"] = ("3.13 uses ntpath.isabs(): a UNC or device drive is "
                                    "absolute even without a root; 3.11 needed a root")
            skips["as_uri"] = skips["is_absolute"]
    if case["stem"] == "":
        skips["with_stem"] = ("3.13 raises for an empty stem when the name has a suffix; "
                              "3.11 returned the suffix as the new name")
    cls = PurePosixPath if case["f"] == "posix" else PureWindowsPath
    try:
        new_name = cls(*case["seg"]).with_suffix(case["suffix"]).name
    except ValueError:
        new_name = None
    if new_name == ".":
        skips["with_suffix"] = ("3.13 builds the new name with with_name(), which rejects "
                                "'.'; 3.11 accepted '.' from with_suffix('') on '..x'")
    return skips


def windows_parse_differs(text):
    norm = text.replace("/", "\\")
    if norm.startswith("\\\\"):
        return new_splitroot(norm) != old_splitroot(norm)
    if len(norm) >= 2 and norm[1] == ":" and not norm[0].isascii() or \
            (len(norm) >= 2 and norm[1] == ":" and not norm[0].isalpha()):
        return True
    return False


def new_splitroot(norm):
    """(drive, root) of pathlib 3.12+ (_parse_path over ntpath.splitroot)."""
    start = 8 if norm[:8].upper() == "\\\\?\\UNC\\" else 2
    index = norm.find("\\", start)
    if index == -1:
        drive, root = norm, ""
    else:
        index2 = norm.find("\\", index + 1)
        if index2 == -1:
            drive, root = norm, ""
        else:
            drive, root = norm[:index2], "\\"
    if not root and not drive.endswith("\\"):
        parts = drive.split("\\")
        if (len(parts) == 4 and parts[2] not in "?.") or len(parts) == 6:
            root = "\\"
    return drive, root


def old_splitroot(norm):
    p = PureWindowsPath(norm)
    return p.drive, p.root


def drive_join_differs(segments):
    drives = [PureWindowsPath(s).drive for s in segments if s]
    roots = [PureWindowsPath(s).root for s in segments if s]
    return any(drives) and (len(set(d.lower() for d in drives if d)) >= 1) and (
        any(d and not r for d, r in zip(drives, roots)) or
        len(set(d for d in drives if d)) > 1)


def starts_with_drive_name(text):
    parts = PureWindowsPath(text).parts if text else ()
    return any(len(x) >= 2 and x[1] == ":" and not x.endswith("\\") for x in parts)


# ----------------------------------------------------------------------- compare --

def show(value):
    if isinstance(value, str) and value != "!E":
        try:
            return repr(dec(value))
        except ValueError:
            return value
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return repr(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", required=True, help="path of pathlib_oracle")
    parser.add_argument("--cases", type=int, default=10000)
    parser.add_argument("--show", type=int, default=20, help="mismatches to print")
    args = parser.parse_args()

    cases = make_cases(args.cases)
    lines = []
    for case in cases:
        wire = {"f": case["f"], "seg": [enc(s) for s in case["seg"]],
                "other": [enc(s) for s in case["other"]], "name": enc(case["name"]),
                "stem": enc(case["stem"]), "suffix": enc(case["suffix"]),
                "pattern": enc(case["pattern"]), "full": enc(case["full"])}
        lines.append(json.dumps(wire))
    # The oracle runs while pathlib computes its side.
    started = time.monotonic()
    oracle = subprocess.Popen([args.oracle], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    answer = {}

    def talk():
        answer["out"], answer["err"] = oracle.communicate("\n".join(lines) + "\n")
        answer["seconds"] = time.monotonic() - started

    talker = threading.Thread(target=talk)
    talker.start()
    expected = [pathlib_props(case) for case in cases]
    talker.join()
    oracle_seconds = answer["seconds"]
    if oracle.returncode != 0:
        print(f"pathlib_oracle exited {oracle.returncode}: {answer['err'][-2000:]}")
        return 1
    outputs = [json.loads(line) for line in answer["out"].splitlines()]
    if len(outputs) != len(cases):
        print(f"pathlib_oracle answered {len(outputs)} of {len(cases)} cases")
        return 1

    mismatches = []
    compared = 0
    skipped = {}
    for case, ours, theirs in zip(cases, outputs, expected):
        if "crash" in ours:
            mismatches.append((case, "crash", None, ours["crash"]))
            continue
        skips = skip_reasons(case)
        for key, expected in theirs.items():
            reason = skips.get("*") or skips.get(key)
            if reason:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            compared += 1
            if ours.get(key) != expected:
                mismatches.append((case, key, expected, ours.get(key)))
        if not ours.get("hash_ok", True):
            mismatches.append((case, "hash_ok", True, False))

    version = ".".join(map(str, sys.version_info[:3]))
    print(f"pathlib_diff: Python {version}, seed {SEED}, {len(cases)} cases, "
          f"{compared} property comparisons, {len(mismatches)} mismatches "
          f"(pathlib_oracle took {oracle_seconds:.2f} s)")
    for reason, count in sorted(skipped.items()):
        print(f"  not compared ({count}x): {reason}")
    for case, key, expected, got in mismatches[:args.show]:
        print(f"MISMATCH {key}: {case['f']} seg={case['seg']!r}")
        print(f"    args: other={case['other']!r} name={case['name']!r} stem={case['stem']!r} "
              f"suffix={case['suffix']!r} pattern={case['pattern']!r} full={case['full']!r}")
        print(f"    pathlib: {show(expected)}")
        print(f"    tetherd: {show(got)}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
