#!/usr/bin/env python3
"""The JSON Schema (config/tetherd.schema.json) and the loader (`tetherd check`) agree.

Every example config under config/examples/ (sources rewritten to fresh temp directories,
since the loader checks that they exist) must be accepted by both; every mutation in
VALID_VARIANTS must be accepted by both; every mutation in INVALID_VARIANTS must be rejected
by both (the schema reports an error, `tetherd check` exits 78).

usage: schema_agreement.py SCHEMA TETHERD EXAMPLES_DIR
"""

import copy
import json
import pathlib
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    sys.exit("schema_agreement: the python3 'jsonschema' module is missing "
             "(Debian: apt-get install python3-jsonschema; see packaging/install-deps.sh)")


def set_path(config, path, value):
    """Sets config[path[0]][path[1]]... = value (a missing last key is created)."""
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def delete_path(config, path):
    node = config
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def setter(path, value):
    return lambda config: set_path(config, path, value)


def deleter(path):
    return lambda config: delete_path(config, path)


# Mutations of the full example that both must accept.
VALID_VARIANTS = {
    "delete false": setter(["rules", 0, "delete"], False),
    "delete startup": setter(["rules", 0, "delete"], "startup"),
    "port omitted": deleter(["stores", "offsite", "port"]),
    "integral float port": setter(["stores", "offsite", "port"], 22.0),
    "s3 prefix": setter(["stores", "bucket", "prefix"], "photos/ann"),
    "empty rules": setter(["rules"], []),
    "no stores, bare path target": lambda c: (c.pop("stores"), c.update(
        rules=[{"name": "a", "source": c["rules"][0]["source"], "target": "/srv/mirror/a"}])),
    "log level debug": setter(["log", "level"], "debug"),
    "delay 0": setter(["rules", 0, "delay_ms"], 0),
    "max_delete_percent 0": setter(["rules", 0, "max_delete_percent"], 0),
    "symlinks follow": setter(["rules", 0, "symlinks"], "follow"),
    "preserve empty": setter(["rules", 0, "preserve"], []),
    "ipv6 host": setter(["stores", "offsite", "host"], "[::1]"),
    "http endpoint": setter(["stores", "bucket", "endpoint"], "http://127.0.0.1:9000"),
    "sftp pinned fingerprint instead of known_hosts": lambda c: (
        c["stores"]["offsite"].pop("known_hosts"),
        c["stores"]["offsite"].update(host_key_fingerprint="SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s")),
    "sftp fingerprint with one '='": setter(["stores", "offsite", "host_key_fingerprint"],
                                            "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s="),
    "sftp tuning and passphrase": lambda c: c["stores"]["offsite"].update(
        passphrase_file="/etc/tetherd/passphrase", connections=16, timeout_ms=1000),
    "sftp root relative to login": setter(["stores", "offsite", "root"], "~/data"),
    "sftp root relative without ~": setter(["stores", "offsite", "root"], "data"),
    "s3 profile, addressing, CA, connections": lambda c: c["stores"]["bucket"].update(
        profile="backup", path_style=False, ca_file="/etc/ssl/ca.pem", connections=64),
    "s3 multipart threshold": setter(["stores", "bucket", "multipart_threshold"], 5 << 20),
    "s3 keys from the environment": lambda c: c["stores"]["bucket"].pop("credentials_file"),
}

# Mutations of the full example that both must reject.
INVALID_VARIANTS = {
    "unknown root key": setter(["loglevel"], "info"),
    "unknown rule key (typo)": setter(["rules", 0, "exlude"], []),
    "unknown log key": setter(["log", "levle"], "info"),
    "secret in sftp store": setter(["stores", "offsite", "password"], "hunter2"),
    "secret in s3 store": setter(["stores", "bucket", "secret_key"], "abc"),
    "key of another store type": setter(["stores", "backup", "bucket"], "photos"),
    "bad delete enum": setter(["rules", 0, "delete"], "sometimes"),
    "delete as quoted bool": setter(["rules", 0, "delete"], "true"),
    "bad symlinks enum": setter(["rules", 0, "symlinks"], "hardlink"),
    "bad preserve item": setter(["rules", 0, "preserve"], ["mtime", "owner"]),
    "preserve twice": setter(["rules", 0, "preserve"], ["mtime", "mtime"]),
    "bad log level": setter(["log", "level"], "verbose"),
    "bad store type": setter(["stores", "backup", "type"], "ftp"),
    "store without type": deleter(["stores", "backup", "type"]),
    "wrong type: delay string": setter(["rules", 0, "delay_ms"], "200"),
    "wrong type: delay fraction": setter(["rules", 0, "delay_ms"], 2.5),
    "wrong type: initial_sync": setter(["rules", 0, "initial_sync"], "yes"),
    "wrong type: include string": setter(["rules", 0, "include"], "**/*.jpg"),
    "wrong type: include item": setter(["rules", 0, "include"], [1]),
    "wrong type: rules object": setter(["rules"], {}),
    "wrong type: stores array": setter(["stores"], []),
    "wrong type: rules null": setter(["rules"], None),
    "negative delay": setter(["rules", 0, "delay_ms"], -1),
    "delay above one hour": setter(["rules", 0, "delay_ms"], 3600001),
    "port 0": setter(["stores", "offsite", "port"], 0),
    "port 65536": setter(["stores", "offsite", "port"], 65536),
    "max_delete_percent 101": setter(["rules", 0, "max_delete_percent"], 101),
    "missing rules": deleter(["rules"]),
    "missing rule name": deleter(["rules", 0, "name"]),
    "missing rule source": deleter(["rules", 0, "source"]),
    "missing rule target": deleter(["rules", 0, "target"]),
    "sftp without known_hosts or fingerprint": deleter(["stores", "offsite", "known_hosts"]),
    "sftp fingerprint without prefix": setter(["stores", "offsite", "host_key_fingerprint"],
                                              "uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
    "sftp fingerprint too short": setter(["stores", "offsite", "host_key_fingerprint"], "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2"),
    "sftp connections 17": setter(["stores", "offsite", "connections"], 17),
    "sftp timeout below a second": setter(["stores", "offsite", "timeout_ms"], 999),
    "sftp relative passphrase_file": setter(["stores", "offsite", "passphrase_file"], "pass"),
    "sftp root in another user's home": setter(["stores", "offsite", "root"], "~ann/data"),
    "sftp ipv6 host without address": setter(["stores", "offsite", "host"], "[host]"),
    "s3 connections 0": setter(["stores", "bucket", "connections"], 0),
    "s3 path_style string": setter(["stores", "bucket", "path_style"], "true"),
    "s3 relative ca_file": setter(["stores", "bucket", "ca_file"], "ca.pem"),
    "s3 multipart threshold below a part": setter(["stores", "bucket", "multipart_threshold"],
                                                  (5 << 20) - 1),
    "s3 profile in brackets": setter(["stores", "bucket", "profile"], "[backup]"),
    "passphrase_file on an s3 store": setter(["stores", "bucket", "passphrase_file"], "/p"),
    "relative source": setter(["rules", 0, "source"], "home/ann"),
    "relative key_file": setter(["stores", "offsite", "key_file"], "id_ed25519"),
    "relative log file": setter(["log", "file"], "events.jsonl"),
    "empty target": setter(["rules", 0, "target"], ""),
    "target without store or slash": setter(["rules", 0, "target"], "srv/mirror"),
    "bad rule name": setter(["rules", 0, "name"], "my photos"),
    "empty rule name": setter(["rules", 0, "name"], ""),
    "bad store name": lambda c: c["stores"].update({"my store": {"type": "local", "root": "/x"}}),
    "durable not a boolean": setter(["stores", "backup", "durable"], "no"),
    "durable on an s3 store": setter(["stores", "bucket", "durable"], False),
    "bad bucket name": setter(["stores", "bucket", "bucket"], "Photos"),
    "endpoint without scheme": setter(["stores", "bucket", "endpoint"], "s3.example.net"),
    "prefix with leading slash": setter(["stores", "bucket", "prefix"], "/ann"),
    "host with user": setter(["stores", "offsite", "host"], "sync@backup.example.net"),
    "empty user": setter(["stores", "offsite", "user"], ""),
    "empty glob": setter(["rules", 0, "exclude"], [""]),
    "schema key not a string": setter(["$schema"], 1),
}


def main():
    schema_path, tetherd, examples_dir = sys.argv[1:4]
    schema = json.loads(pathlib.Path(schema_path).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = []
    checked = 0

    with tempfile.TemporaryDirectory(prefix="tetherd-schema-") as temp:
        temp = pathlib.Path(temp)

        def loader_exit(config, name):
            path = temp / (name.replace(" ", "_").replace(":", "") + ".json")
            path.write_text(json.dumps(config, indent=2))
            run = subprocess.run([tetherd, "check", "-c", str(path)], capture_output=True,
                                 text=True, check=False)
            return run.returncode, run.stdout + run.stderr

        def with_real_sources(config, label):
            for index, rule in enumerate(config.get("rules", [])):
                source = temp / "sources" / label / str(index)
                source.mkdir(parents=True, exist_ok=True)
                rule["source"] = str(source)
            return config

        def with_real_targets(config, label):
            """Local targets and local store roots must exist too (tetherd never makes them)."""
            for name, store in (config.get("stores") or {}).items():
                if isinstance(store, dict) and store.get("type") == "local":
                    root = temp / "roots" / label / name
                    root.mkdir(parents=True, exist_ok=True)
                    store["root"] = str(root)
            for index, rule in enumerate(config.get("rules") or []):
                target = rule.get("target") if isinstance(rule, dict) else None
                if isinstance(target, str) and target.startswith("/"):
                    directory = temp / "targets" / label / str(index)
                    directory.mkdir(parents=True, exist_ok=True)
                    rule["target"] = str(directory)
            return config

        def expect(config, name, valid):
            nonlocal checked
            checked += 1
            if isinstance(config, dict):
                config = with_real_targets(copy.deepcopy(config), str(checked))
            schema_errors = [e.message for e in validator.iter_errors(config)]
            code, output = loader_exit(config, name)
            if valid and schema_errors:
                failures.append(f"{name}: schema rejects a valid config: {schema_errors}")
            if valid and code != 0:
                failures.append(f"{name}: tetherd check exits {code}:\n{output}")
            if not valid and not schema_errors:
                failures.append(f"{name}: schema accepts an invalid config")
            if not valid and code != 78:
                failures.append(f"{name}: tetherd check exits {code}, expected 78:\n{output}")

        examples = sorted(pathlib.Path(examples_dir).glob("*.json"))
        if not examples:
            failures.append(f"no example configs in {examples_dir}")
        full = None
        for example in examples:
            config = with_real_sources(json.loads(example.read_text()), example.stem)
            expect(config, f"example {example.name}", True)
            if example.name == "full.json":
                full = config
        if full is None:
            failures.append("config/examples/full.json is missing")
        else:
            for name, mutate in VALID_VARIANTS.items():
                config = copy.deepcopy(full)
                mutate(config)
                expect(config, f"valid variant '{name}'", True)
            for name, mutate in INVALID_VARIANTS.items():
                config = copy.deepcopy(full)
                mutate(config)
                expect(config, f"invalid variant '{name}'", False)

    for failure in failures:
        print("FAIL:", failure)
    print(f"schema_agreement: {checked} configs checked, {len(failures)} disagreements")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
