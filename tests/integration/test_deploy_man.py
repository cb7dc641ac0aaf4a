#!/usr/bin/python3
"""deploy/man says what the programs and the header really offer: every
option in a page's SYNOPSIS and OPTIONS is one the program's --help lists and
the other way round, and libfastprom(3)'s SYNOPSIS names exactly the
functions fastprom.h exports. Rendering without warnings is checked on the
installed pages in test_deploy_install.py.
"""
import os
import re
import unittest

from deploy_support import BUILD, DEPLOY, ROOT, WORKER, run

CLI = os.path.join(BUILD, "fastprom")
CLI_COMMANDS = ("dump", "stat", "init", "inc", "dec", "set", "observe")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*[a-z]")


def rendered(page):
    env = dict(os.environ, MANWIDTH="200")
    return run(["man", "-l", os.path.join(DEPLOY, "man", page)], env=env).stdout


def sections(text, *names):
    """The text of the named top-level sections of a rendered page."""
    out, keep = [], False
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            keep = line.strip() in names
        elif keep:
            out.append(line)
    return "\n".join(out)


def help_flags(argv):
    proc = run(argv + ["--help"], check=False)
    text = proc.stdout + proc.stderr
    if proc.returncode != 0 or "usage" not in text:
        raise AssertionError(f"{' '.join(argv)} --help failed ({proc.returncode}):\n{text}")
    return set(FLAG.findall(text))


class ManOptionsTest(unittest.TestCase):
    def require(self, binary):
        if not os.access(binary, os.X_OK):
            self.fail(f"{binary} is missing: run `make`")

    def test_fastprom_fcgi_8_documents_every_option_and_no_other(self):
        self.require(WORKER)
        documented = set(FLAG.findall(sections(rendered("fastprom-fcgi.8"), "SYNOPSIS", "OPTIONS")))
        self.assertEqual(documented, help_flags([WORKER]))

    def test_fastprom_1_documents_every_option_and_no_other(self):
        self.require(CLI)
        offered = help_flags([CLI])
        for command in CLI_COMMANDS:
            offered |= help_flags([CLI, command])
        documented = set(FLAG.findall(sections(rendered("fastprom.1"), "SYNOPSIS", "OPTIONS")))
        self.assertEqual(documented, offered)

    def test_fastprom_1_names_every_command(self):
        self.require(CLI)
        usage = run([CLI, "--help"]).stdout
        listed = set(re.findall(r"^  ([a-z]+)\s{2,}", usage.split("Commands:")[1].split("Options:")[0], re.M))
        self.assertEqual(listed, set(CLI_COMMANDS))
        synopsis = sections(rendered("fastprom.1"), "SYNOPSIS")
        for command in CLI_COMMANDS:
            self.assertRegex(synopsis, rf"\b{command}\b")

    def test_libfastprom_3_lists_exactly_the_exported_functions(self):
        with open(os.path.join(ROOT, "include/fastprom.h")) as f:
            header = f.read()
        exported = set(re.findall(r"FASTPROM_API\b[^;(]*?\b(fastprom_\w+)\s*\(", header))
        synopsis = sections(rendered("libfastprom.3"), "SYNOPSIS")
        documented = set(re.findall(r"\b(fastprom_\w+)\(", synopsis))
        self.assertTrue(exported)
        self.assertEqual(documented, exported)

    def test_versions_match_the_header(self):
        with open(os.path.join(ROOT, "include/fastprom.h")) as f:
            version = re.search(r'#define FASTPROM_VERSION "([^"]+)"', f.read()).group(1)
        for page in ("fastprom.1", "libfastprom.3", "fastprom-fcgi.8"):
            with open(os.path.join(DEPLOY, "man", page)) as f:
                self.assertIn(f'"fastprom {version}"', f.read(), page)


if __name__ == "__main__":
    unittest.main(verbosity=2)
