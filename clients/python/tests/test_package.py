"""The package builds and installs with Debian's own pip and setuptools, offline."""

import os
import shutil
import subprocess
import tempfile
import unittest
import zipfile

from .support import PACKAGE_ROOT

SYSTEM_PYTHON = "/usr/bin/python3"


def _missing():
    if not os.path.exists(SYSTEM_PYTHON):
        return "no " + SYSTEM_PYTHON
    for module in ("venv", "pip", "setuptools", "wheel"):
        if subprocess.run([SYSTEM_PYTHON, "-c", "import " + module], capture_output=True).returncode != 0:
            return "Debian's python3-%s is not installed" % module
    return None


class PackageTest(unittest.TestCase):
    def setUp(self):
        why = _missing()
        if why:
            if os.environ.get("CI") == "true":
                self.fail(why + " (./setup.sh installs it)")
            self.skipTest(why)
        self.tmp = tempfile.mkdtemp(prefix="svpkg-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        # Built from a copy: pip builds in the source tree.
        self.src = os.path.join(self.tmp, "src")
        shutil.copytree(PACKAGE_ROOT, self.src, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info",
                                                                              "__pycache__"))

    def run_ok(self, *argv, cwd=None):
        r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd or self.tmp, timeout=300,
                           env={k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {
                               "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
        self.assertEqual(r.returncode, 0, "%s\n%s\n%s" % (" ".join(argv), r.stdout, r.stderr))
        return r.stdout

    def test_wheel_metadata_and_an_installed_import(self):
        dist = os.path.join(self.tmp, "dist")
        self.run_ok(SYSTEM_PYTHON, "-m", "pip", "wheel", "--no-index", "--no-build-isolation", "--no-deps",
                    "-w", dist, self.src)
        wheel, = [f for f in os.listdir(dist) if f.endswith(".whl")]
        self.assertTrue(wheel.startswith("spanvault-0.1.0-py3-none-any"), wheel)
        with zipfile.ZipFile(os.path.join(dist, wheel)) as z:
            names = z.namelist()
            meta = z.read("spanvault-0.1.0.dist-info/METADATA").decode()
        self.assertIn("spanvault/py.typed", names)
        self.assertIn("spanvault/_wrappers.py", names)
        self.assertFalse([n for n in names if n.startswith("tests/")])
        self.assertIn("Requires-Python: >=3.9", meta)
        self.assertIn("License: Apache-2.0", meta)
        self.assertNotIn("Requires-Dist", meta)  # no runtime dependencies

        venv = os.path.join(self.tmp, "venv")
        self.run_ok(SYSTEM_PYTHON, "-m", "venv", "--system-site-packages", venv)
        self.run_ok(os.path.join(venv, "bin", "pip"), "install", "--no-index", "--no-deps",
                    os.path.join(dist, wheel))
        out = self.run_ok(os.path.join(venv, "bin", "python"), "-c",
                          "import spanvault; print(spanvault.__version__); print(spanvault.__file__)")
        version, path = out.split()
        self.assertEqual(version, "0.1.0")
        self.assertTrue(path.startswith(venv), path)
