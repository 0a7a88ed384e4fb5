"""The pipeline image's file steps, as tests/support/image_tree.py stands them in for `docker build`:
`.dockerignore` rules as Docker reads them, and COPY of a missing or ignored source failing the
build. The image tree itself running prepare and Transform is tests/e2e/test_image.py.
"""

from __future__ import annotations

import pytest

from tests.support import image_tree


@pytest.mark.parametrize(
    ("rules", "path", "ignored"),
    [
        ("tests", "tests/unit/test_x.py", True),  # a folder excludes everything below it
        ("**/__pycache__", "tastebud/web/__pycache__/app.cpython-313.pyc", True),
        ("*.egg-info", "sub/x.egg-info/PKG-INFO", False),  # patterns are anchored at the context's root
        ("data/*\n!data/formats.py", "data/formats.py", False),  # `!` re-includes; the last match wins
        ("!data/formats.py\ndata/*", "data/formats.py", True),
        ("/out", "out/pipeline/metadata.sqlite", True),
        ("dat?/[a-f]*.py", "data/formats.py", True),
    ],
)
def test_dockerignore_rules_as_docker_reads_them(rules, path, ignored):
    assert image_tree.ignored(path, image_tree.ignore_rules(rules)) is ignored


def test_copy_of_a_missing_or_ignored_source_fails_the_build(tmp_path):
    context = tmp_path / "context"
    (context / "pkg").mkdir(parents=True)
    (context / "pkg" / "a.py").write_text("")
    (context / ".dockerignore").write_text("pkg/a.py\n")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nWORKDIR /app\nCOPY pkg/a.py ./\n")
    with pytest.raises(FileNotFoundError, match="pkg/a.py"):
        image_tree.build(tmp_path / "Dockerfile", context, tmp_path / "image")
    (context / ".dockerignore").write_text("")
    (tmp_path / "Dockerfile").write_text("FROM scratch\nWORKDIR /app\nCOPY pkg/ lib/\nCOPY pkg/a.py b.py\n")
    image = image_tree.build(tmp_path / "Dockerfile", context, tmp_path / "image")
    assert image.path("lib/a.py").is_file() and (tmp_path / "image" / "app" / "b.py").is_file()
