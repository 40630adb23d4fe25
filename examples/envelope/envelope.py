#!/usr/bin/env python3
"""Envelope encryption with a PKCS#11 token (ferrohsm or any module), through python-pkcs11.

The master key is an AES-256 key that lives on the token and never leaves it: sensitive,
not extractable, usable only to wrap and unwrap. Each message gets a fresh AES-256 data key,
generated on the token as a session object; the message is encrypted under it with AES-GCM,
the data key is wrapped under the master key (CKM_AES_KEY_WRAP_KWP, RFC 5649, or with
--wrap kw CKM_AES_KEY_WRAP, RFC 3394), and the wrapped key is stored beside the ciphertext.
Decryption unwraps the data key into a session object (sensitive, not extractable) and
decrypts. The data key is never seen in the clear by this program.

    pip install python-pkcs11
    export FERROHSM_MODULE=target/release/libferrohsm.so FERROHSM_PIN=1234
    envelope.py --token demo init-master
    envelope.py --token demo encrypt message.txt message.env
    envelope.py --token demo decrypt message.env message.out
    envelope.py show message.env
    envelope.py --token demo check-policy

Envelope file format (integers big-endian):

    magic "FHSMENV1" (8) | wrap mechanism (1: 1 = AES_KEY_WRAP, 2 = AES_KEY_WRAP_KWP)
    | wrapped-key length (2) | wrapped key | IV (12) | ciphertext | tag (16)

Everything before the ciphertext (the header) is the GCM additional authenticated data, so a
wrapped key moved to another envelope, or a changed IV, fails the tag check.
"""

import argparse
import os
import secrets
import struct
import sys
from pathlib import Path

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import (
    AttributeSensitive,
    KeyUnextractable,
    MechanismInvalid,
    NoSuchKey,
    PKCS11Error,
)
from pkcs11.mechanisms import GCMParams

MAGIC = b"FHSMENV1"
IV_LEN = 12
TAG_BITS = 128
WRAP_MECHANISMS = {1: Mechanism.AES_KEY_WRAP, 2: Mechanism.AES_KEY_WRAP_KWP}
WRAP_NAMES = {"kw": 1, "kwp": 2}
REPO_ROOT = Path(__file__).resolve().parents[2]


# ---- the file format -------------------------------------------------------------------------


def make_header(wrap_id: int, wrapped_key: bytes, iv: bytes) -> bytes:
    return MAGIC + struct.pack(">BH", wrap_id, len(wrapped_key)) + wrapped_key + iv


def parse_envelope(blob: bytes):
    """Split an envelope into (header, wrap mechanism, wrapped key, IV, ciphertext with tag)."""
    if len(blob) < len(MAGIC) + 3 or blob[: len(MAGIC)] != MAGIC:
        raise ValueError("not an envelope (bad magic)")
    wrap_id, wlen = struct.unpack_from(">BH", blob, len(MAGIC))
    if wrap_id not in WRAP_MECHANISMS:
        raise ValueError(f"unknown wrap mechanism {wrap_id}")
    start = len(MAGIC) + 3
    header_len = start + wlen + IV_LEN
    if len(blob) < header_len + TAG_BITS // 8:
        raise ValueError("truncated envelope")
    wrapped_key = blob[start : start + wlen]
    iv = blob[start + wlen : header_len]
    return blob[:header_len], WRAP_MECHANISMS[wrap_id], wrapped_key, iv, blob[header_len:]


# ---- the token -------------------------------------------------------------------------------


def open_session(args):
    lib = pkcs11.lib(args.module)
    token = lib.get_token(token_label=args.token)
    return token.open(user_pin=args.pin, rw=True)


def find_master(session, label):
    return session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES, label=label)


def cmd_init_master(session, args):
    try:
        find_master(session, args.master_label)
        sys.exit(f"a master key labelled {args.master_label!r} already exists")
    except NoSuchKey:
        pass
    master = session.generate_key(
        KeyType.AES,
        256,
        label=args.master_label,
        id=b"envelope-master",
        store=True,  # CKA_TOKEN: it outlives the session
        capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP,  # nothing else
        template={
            Attribute.PRIVATE: True,
            Attribute.SENSITIVE: True,
            Attribute.EXTRACTABLE: False,
        },
    )
    print(f"master key {master.label!r} created: AES-256, sensitive, not extractable, wrap/unwrap")


def cmd_encrypt(session, args):
    master = find_master(session, args.master_label)
    plaintext = Path(args.input).read_bytes()
    # A fresh data key for this message: a session object (CKA_TOKEN false), sensitive, but
    # extractable, because C_WrapKey refuses keys that are not.
    data_key = session.generate_key(
        KeyType.AES,
        256,
        store=False,
        capabilities=MechanismFlag.ENCRYPT,
        template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: True},
    )
    try:
        wrap_id = WRAP_NAMES[args.wrap]
        wrapped_key = master.wrap_key(data_key, mechanism=WRAP_MECHANISMS[wrap_id])
        iv = secrets.token_bytes(IV_LEN)
        header = make_header(wrap_id, wrapped_key, iv)
        ciphertext = data_key.encrypt(
            plaintext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, header, TAG_BITS)
        )
    finally:
        data_key.destroy()
    Path(args.output).write_bytes(header + ciphertext)
    print(f"{args.input}: {len(plaintext)} bytes -> {args.output}: wrapped key {len(wrapped_key)} bytes")


def cmd_decrypt(session, args):
    master = find_master(session, args.master_label)
    header, wrap_mech, wrapped_key, iv, ciphertext = parse_envelope(Path(args.input).read_bytes())
    # The unwrapped data key is a session object, sensitive and not extractable: it can decrypt
    # this message and nothing can read it.
    data_key = master.unwrap_key(
        ObjectClass.SECRET_KEY,
        KeyType.AES,
        wrapped_key,
        mechanism=wrap_mech,
        store=False,
        capabilities=MechanismFlag.DECRYPT,
        template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
    )
    try:
        plaintext = data_key.decrypt(
            ciphertext, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(iv, header, TAG_BITS)
        )
    finally:
        data_key.destroy()
    # Nothing is written unless the tag verified.
    Path(args.output).write_bytes(plaintext)
    print(f"{args.input} -> {args.output}: {len(plaintext)} bytes")


def cmd_show(session, args):
    del session
    _header, wrap_mech, wrapped_key, iv, ciphertext = parse_envelope(Path(args.input).read_bytes())
    print(f"wrap-mechanism: CKM_{wrap_mech.name}")
    print(f"wrapped-key: {wrapped_key.hex()}")
    print(f"iv: {iv.hex()}")
    print(f"ciphertext: {len(ciphertext) - TAG_BITS // 8} bytes + {TAG_BITS // 8}-byte tag")


def cmd_check_policy(session, args):
    """Show that the master key cannot leave the token; exit 1 if it could."""
    master = find_master(session, args.master_label)
    problems = 0

    def report(ok, what):
        nonlocal problems
        problems += not ok
        print(f"{'ok' if ok else 'VIOLATION'}: {what}")

    # A key generated on the token (CKA_LOCAL) has never been anything else than sensitive and
    # not extractable; an imported key's value was known outside, which the token records.
    local = master[Attribute.LOCAL]
    expected = [
        (Attribute.TOKEN, True),
        (Attribute.SENSITIVE, True),
        (Attribute.EXTRACTABLE, False),
        (Attribute.WRAP, True),
        (Attribute.UNWRAP, True),
        (Attribute.ENCRYPT, False),
        (Attribute.DECRYPT, False),
    ]
    if local:
        expected += [(Attribute.ALWAYS_SENSITIVE, True), (Attribute.NEVER_EXTRACTABLE, True)]
    else:
        print("note: CKA_LOCAL is False (an imported key): CKA_ALWAYS_SENSITIVE and "
              "CKA_NEVER_EXTRACTABLE not required")
    for attr, want in expected:
        got = master[attr]
        report(got == want, f"CKA_{attr.name} is {got}")

    try:
        master[Attribute.VALUE]
        report(False, "CKA_VALUE of the master key was readable")
    except AttributeSensitive:
        report(True, "reading CKA_VALUE fails with CKR_ATTRIBUTE_SENSITIVE")

    wrapper = session.generate_key(
        KeyType.AES, 256, store=False, capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP
    )
    try:
        for mech in (Mechanism.AES_KEY_WRAP_KWP, Mechanism.AES_KEY_WRAP):
            try:
                wrapper.wrap_key(master, mechanism=mech)
                report(False, f"the master key was wrapped with {mech.name}")
            except KeyUnextractable:
                report(True, f"wrapping it ({mech.name}) fails with CKR_KEY_UNEXTRACTABLE")
            except MechanismInvalid:
                print(f"skipped: the token has no CKM_{mech.name}")
    finally:
        wrapper.destroy()

    for attr, value in [(Attribute.EXTRACTABLE, True), (Attribute.SENSITIVE, False)]:
        try:
            master[attr] = value
            report(False, f"CKA_{attr.name} could be set to {value}")
        except PKCS11Error as e:  # CKR_ATTRIBUTE_READ_ONLY is what the standard asks for
            report(True, f"setting CKA_{attr.name} to {value} fails with {type(e).__name__}")

    if problems:
        sys.exit(f"{problems} policy violation(s)")


COMMANDS = {
    "init-master": (cmd_init_master, []),
    "encrypt": (cmd_encrypt, ["input", "output"]),
    "decrypt": (cmd_decrypt, ["input", "output"]),
    "show": (cmd_show, ["input"]),
    "check-policy": (cmd_check_policy, []),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--module",
        default=os.environ.get("FERROHSM_MODULE", str(REPO_ROOT / "target/release/libferrohsm.so")),
        help="PKCS#11 module (default: $FERROHSM_MODULE, else target/release/libferrohsm.so)",
    )
    parser.add_argument("--token", help="token label (every command but show)")
    parser.add_argument("--pin", default=os.environ.get("FERROHSM_PIN"), help="user PIN (default: $FERROHSM_PIN)")
    parser.add_argument("--master-label", default="envelope-master", help="label of the master key")
    parser.add_argument(
        "--wrap",
        choices=sorted(WRAP_NAMES),
        default="kwp",
        help="encrypt: wrap the data key with CKM_AES_KEY_WRAP_KWP (kwp, default) or CKM_AES_KEY_WRAP (kw)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, positional) in COMMANDS.items():
        p = sub.add_parser(name)
        for arg in positional:
            p.add_argument(arg)
    args = parser.parse_args()
    func = COMMANDS[args.command][0]
    if args.command == "show":
        return func(None, args)
    if not args.token:
        sys.exit("no token: pass --token LABEL")
    if not args.pin:
        sys.exit("no PIN: pass --pin or set FERROHSM_PIN")
    try:
        with open_session(args) as session:
            func(session, args)
    except (PKCS11Error, ValueError) as e:
        # python-pkcs11 names the exception after the CKR_* code (e.g. WrappedKeyInvalid).
        sys.exit(f"{args.command} failed: {type(e).__name__} {e}".rstrip())


if __name__ == "__main__":
    main()
