#!/usr/bin/python3
"""The clang-tidy cache of scripts/lint.sh.

A source file whose translation unit, preprocessed (`-E -P`: no line markers, so the clone's
path does not enter), hashes to a key already recorded as clean under the same clang-tidy
version and configuration needs no new run: clang-tidy's findings depend on nothing else.

  lint_cache.py stale BUILD_DIR CACHE FILE...   prints the files to lint and records their keys
                                                 in CACHE/pending
  lint_cache.py commit CACHE                     marks the pending keys clean (after a clean run)
"""
import concurrent.futures
import hashlib
import json
import os
import shlex
import subprocess
import sys


def preprocess_key(entry, salt):
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    if os.path.basename(args[0]) == "ccache":
        args = args[1:]
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD"):
            continue
        out.append(a)
    out += ["-E", "-P"]
    text = subprocess.run(out, cwd=entry["directory"], capture_output=True, check=True).stdout
    return hashlib.sha256(salt + text).hexdigest()


def main():
    mode = sys.argv[1]
    if mode == "commit":
        cache = sys.argv[2]
        pending = os.path.join(cache, "pending")
        if os.path.exists(pending):
            for key in open(pending).read().split():
                open(os.path.join(cache, key), "w").close()
            os.remove(pending)
        return
    build_dir, cache, files = sys.argv[2], sys.argv[3], sys.argv[4:]
    os.makedirs(cache, exist_ok=True)
    entries = {}
    for e in json.load(open(os.path.join(build_dir, "compile_commands.json"))):
        entries[os.path.realpath(os.path.join(e["directory"], e["file"]))] = e
    version = subprocess.run(["clang-tidy", "--version"], capture_output=True).stdout
    config = open(".clang-tidy", "rb").read() if os.path.exists(".clang-tidy") else b""
    salt = hashlib.sha256(version + config).digest()

    def key_of(f):
        e = entries.get(os.path.realpath(f))
        if e is None:
            return f, None  # not compiled here: always lint
        try:
            return f, preprocess_key(e, salt)
        except subprocess.CalledProcessError:
            return f, None

    stale, keys = [], []
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for f, key in pool.map(key_of, files):
            if key is None or not os.path.exists(os.path.join(cache, key)):
                stale.append(f)
                if key is not None:
                    keys.append(key)
    with open(os.path.join(cache, "pending"), "w") as out:
        out.write("\n".join(keys))
    print("\n".join(stale))


if __name__ == "__main__":
    main()
