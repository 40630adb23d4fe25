import os, sys, pkcs11
from pkcs11 import Attribute, ObjectClass, KeyType, Mechanism
lib = pkcs11.lib(sys.argv[1])
tok = lib.get_token(token_label="v1-fixture")
with tok.open(rw=True, user_pin="user-pin-9a4f06b3") as s:
    s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: False,
                     Attribute.LABEL: "public-data", Attribute.APPLICATION: "fixture", Attribute.VALUE: b"public value 0123456789"})
    s.create_object({Attribute.CLASS: ObjectClass.DATA, Attribute.TOKEN: True, Attribute.PRIVATE: True,
                     Attribute.LABEL: "private-data", Attribute.APPLICATION: "fixture", Attribute.VALUE: b"private value 9876543210"})
    s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES, Attribute.TOKEN: True,
                     Attribute.PRIVATE: True, Attribute.LABEL: "aes-known", Attribute.ID: b"\x01",
                     Attribute.VALUE: bytes(range(0x40, 0x60)), Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                     Attribute.ENCRYPT: True, Attribute.DECRYPT: True, Attribute.WRAP: True, Attribute.UNWRAP: True})
    s.create_object({Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.GENERIC_SECRET, Attribute.TOKEN: True,
                     Attribute.PRIVATE: True, Attribute.LABEL: "hmac-known", Attribute.ID: b"\x02",
                     Attribute.VALUE: bytes(range(0x80, 0xa0)), Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: True,
                     Attribute.SIGN: True, Attribute.VERIFY: True})
    pub, priv = s.generate_keypair(KeyType.EC, None, store=True, label="ec-p256", id=b"\x03",
        public_template={Attribute.EC_PARAMS: bytes.fromhex("06082a8648ce3d030107")},
        private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
    pub, priv = s.generate_keypair(KeyType.RSA, 2048, store=True, label="rsa-2048", id=b"\x04",
        private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False, Attribute.WRAP_WITH_TRUSTED: True})
print("ok")
