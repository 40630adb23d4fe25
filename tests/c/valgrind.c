/*
 * valgrind.c - the C client that scripts/valgrind-smoke runs under valgrind memcheck: the
 * module's whole life in one process, with crypto operations (tests/c/smoke.c covers objects).
 *
 * Build: gcc -Wall -Wextra -Werror -g -I/usr/include/p11-kit-1 tests/c/valgrind.c \
 *            -o valgrind-client -ldl
 * Run:   ./valgrind-client MODULE.so TOKEN_LABEL USER_PIN
 *
 * dlopens the module, C_Initialize (CKF_OS_LOCKING_OK), finds the token by label, opens an R/W
 * session, logs in as user, then: C_GenerateRandom (small and large requests), an AES-256 key
 * (C_GenerateKey) with AES-GCM encrypt and decrypt (size query, then the data; the plaintext
 * must come back and a changed tag must fail), a P-256 key pair (C_GenerateKeyPair) with
 * ECDSA-SHA256 sign and verify (a changed message must fail), a SHA-256 digest (single and
 * multi-part, against the known value), HMAC-SHA256 on a generic secret (against a known answer
 * computed with Python's hmac and OpenSSL, then verified), AES-128-GCM of a fixed key against
 * McGrew-Viega test case 2, a token data object (created, found, read, destroyed), then logout,
 * close, C_Finalize and dlclose.
 * Prints `PASS name` or `FAIL name: ...` per step and `valgrind-client: N checks passed,
 * N failed`; exits non-zero on any failure.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

static int passed, failed;

static void pass(const char *name)
{
    printf("PASS %s\n", name);
    passed++;
}

static void fail_msg(const char *name, const char *why)
{
    printf("FAIL %s: %s\n", name, why);
    failed++;
}

/* Records the step; returns 1 when rv is the expected value. */
static int expect(const char *name, CK_RV rv, CK_RV want)
{
    if (rv == want) {
        pass(name);
        return 1;
    }
    printf("FAIL %s: CKR 0x%08lx (expected 0x%08lx)\n", name, (unsigned long)rv,
           (unsigned long)want);
    failed++;
    return 0;
}

static int check(const char *name, CK_RV rv)
{
    return expect(name, rv, CKR_OK);
}

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* DER of the OID of P-256. */
static CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
static const CK_BYTE sha256_abc[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};

static int aes_gcm(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_VALUE_LEN, &len, sizeof len},
        {CKA_ENCRYPT, &yes, sizeof yes},
        {CKA_DECRYPT, &yes, sizeof yes},
        {CKA_TOKEN, &no, sizeof no},
    };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    if (!check("C_GenerateKey AES-256", f->C_GenerateKey(s, &gen, tmpl, 4, &key)))
        return 0;

    CK_BYTE iv[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    CK_BYTE aad[] = "header";
    CK_GCM_PARAMS gcm;
    memset(&gcm, 0, sizeof gcm);
    gcm.pIv = iv;
    gcm.ulIvLen = sizeof iv;
    gcm.ulIvBits = 96;
    gcm.pAAD = aad;
    gcm.ulAADLen = sizeof aad - 1;
    gcm.ulTagBits = 128;
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};

    CK_BYTE plain[100];
    for (size_t i = 0; i < sizeof plain; i++)
        plain[i] = (CK_BYTE)i;
    CK_BYTE cipher[200], back[200];
    CK_ULONG cipher_len = 0, back_len = 0;

    if (!check("C_EncryptInit AES-GCM", f->C_EncryptInit(s, &mech, key)))
        return 0;
    if (!check("C_Encrypt size query", f->C_Encrypt(s, plain, sizeof plain, NULL, &cipher_len)))
        return 0;
    if (cipher_len != sizeof plain + 16 || cipher_len > sizeof cipher) {
        fail_msg("C_Encrypt size query", "unexpected length");
        return 0;
    }
    if (!check("C_Encrypt AES-GCM", f->C_Encrypt(s, plain, sizeof plain, cipher, &cipher_len)))
        return 0;

    if (!check("C_DecryptInit AES-GCM", f->C_DecryptInit(s, &mech, key)))
        return 0;
    back_len = sizeof back;
    if (!check("C_Decrypt AES-GCM", f->C_Decrypt(s, cipher, cipher_len, back, &back_len)))
        return 0;
    if (back_len == sizeof plain && memcmp(back, plain, sizeof plain) == 0)
        pass("AES-GCM round trip");
    else
        fail_msg("AES-GCM round trip", "plaintext differs");

    /* Multi-part decryption of a changed tag must fail. */
    cipher[cipher_len - 1] ^= 1;
    if (!check("C_DecryptInit AES-GCM (changed tag)", f->C_DecryptInit(s, &mech, key)))
        return 0;
    back_len = sizeof back;
    CK_RV rv = f->C_DecryptUpdate(s, cipher, cipher_len, back, &back_len);
    if (rv == CKR_OK) {
        back_len = sizeof back;
        rv = f->C_DecryptFinal(s, back, &back_len);
    }
    if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE)
        pass("AES-GCM changed tag rejected");
    else
        expect("AES-GCM changed tag rejected", rv, CKR_ENCRYPTED_DATA_INVALID);

    return check("C_DestroyObject AES key", f->C_DestroyObject(s, key));
}

static int ecdsa(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_EC_PARAMS, p256, sizeof p256},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_TOKEN, &no, sizeof no},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_TOKEN, &no, sizeof no},
    };
    CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE;
    if (!check("C_GenerateKeyPair P-256",
               f->C_GenerateKeyPair(s, &gen, pub_tmpl, 3, priv_tmpl, 2, &pub, &priv)))
        return 0;

    CK_MECHANISM mech = {CKM_ECDSA_SHA256, NULL, 0};
    CK_BYTE msg[] = "the message to sign";
    CK_BYTE sig[132];
    CK_ULONG sig_len = 0;
    if (!check("C_SignInit ECDSA-SHA256", f->C_SignInit(s, &mech, priv)))
        return 0;
    if (!check("C_Sign size query", f->C_Sign(s, msg, sizeof msg, NULL, &sig_len)))
        return 0;
    if (sig_len != 64) {
        fail_msg("C_Sign size query", "P-256 signature is not 64 bytes");
        return 0;
    }
    if (!check("C_Sign ECDSA-SHA256", f->C_Sign(s, msg, sizeof msg, sig, &sig_len)))
        return 0;

    if (!check("C_VerifyInit", f->C_VerifyInit(s, &mech, pub)))
        return 0;
    check("C_Verify", f->C_Verify(s, msg, sizeof msg, sig, sig_len));

    /* Multi-part verification of another message must fail. */
    msg[0] ^= 1;
    if (!check("C_VerifyInit (changed message)", f->C_VerifyInit(s, &mech, pub)))
        return 0;
    check("C_VerifyUpdate", f->C_VerifyUpdate(s, msg, sizeof msg));
    expect("C_VerifyFinal changed message", f->C_VerifyFinal(s, sig, sig_len),
           CKR_SIGNATURE_INVALID);

    check("C_DestroyObject EC public", f->C_DestroyObject(s, pub));
    return check("C_DestroyObject EC private", f->C_DestroyObject(s, priv));
}

static int digest(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
    CK_BYTE abc[] = {'a', 'b', 'c'};
    CK_BYTE out[64];
    CK_ULONG out_len = sizeof out;

    if (!check("C_DigestInit SHA-256", f->C_DigestInit(s, &mech)))
        return 0;
    if (!check("C_Digest", f->C_Digest(s, abc, sizeof abc, out, &out_len)))
        return 0;
    if (out_len == 32 && memcmp(out, sha256_abc, 32) == 0)
        pass("SHA-256(abc)");
    else
        fail_msg("SHA-256(abc)", "wrong digest");

    if (!check("C_DigestInit SHA-256 (multi-part)", f->C_DigestInit(s, &mech)))
        return 0;
    check("C_DigestUpdate", f->C_DigestUpdate(s, abc, 1));
    check("C_DigestUpdate", f->C_DigestUpdate(s, abc + 1, 2));
    out_len = sizeof out;
    if (!check("C_DigestFinal", f->C_DigestFinal(s, out, &out_len)))
        return 0;
    if (out_len == 32 && memcmp(out, sha256_abc, 32) == 0)
        pass("SHA-256(abc) multi-part");
    else
        fail_msg("SHA-256(abc) multi-part", "wrong digest");
    return 1;
}

/* HMAC-SHA256 with 32 bytes of 0x0b as the key, of "Hi There": Python
 * hmac.new(b"\x0b" * 32, b"Hi There", hashlib.sha256) and `openssl dgst -sha256 -mac HMAC`. */
static const CK_BYTE hmac_kat[32] = {
    0x19, 0x8a, 0x60, 0x7e, 0xb4, 0x4b, 0xfb, 0xc6, 0x99, 0x03, 0xa0, 0xf1, 0xcf, 0x2b, 0xbd, 0xc5,
    0xba, 0x0a, 0xa3, 0xf3, 0xd9, 0xae, 0x3c, 0x1c, 0x7a, 0x3b, 0x16, 0x96, 0xa0, 0xb6, 0x8c, 0xf7,
};

/* McGrew-Viega GCM test case 2: AES-128, zero key, zero 96-bit IV, one zero block, no AAD;
 * ciphertext then the 128-bit tag. */
static const CK_BYTE gcm_tc2[32] = {
    0x03, 0x88, 0xda, 0xce, 0x60, 0xb6, 0xa3, 0x92, 0xf3, 0x28, 0xc2, 0xb9, 0x71, 0xb2, 0xfe, 0x78,
    0xab, 0x6e, 0x47, 0xd4, 0x2c, 0xec, 0x13, 0xbd, 0xf5, 0x3a, 0x67, 0xb2, 0x12, 0x57, 0xbd, 0xdf,
};

static int hmac(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BYTE value[32];
    memset(value, 0x0b, sizeof value);
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE, value, sizeof value},
        {CKA_SIGN, &yes, sizeof yes},
        {CKA_VERIFY, &yes, sizeof yes},
        {CKA_TOKEN, &no, sizeof no},
    };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    if (!check("C_CreateObject generic secret", f->C_CreateObject(s, tmpl, 6, &key)))
        return 0;
    CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
    CK_BYTE data[] = "Hi There";
    CK_BYTE mac[32];
    CK_ULONG mac_len = sizeof mac;
    if (check("C_SignInit HMAC-SHA256", f->C_SignInit(s, &mech, key)) &&
        check("C_Sign HMAC-SHA256", f->C_Sign(s, data, sizeof data - 1, mac, &mac_len))) {
        /* The module's MAC must be the known answer, not merely one it verifies itself. */
        if (mac_len == sizeof hmac_kat && memcmp(mac, hmac_kat, sizeof hmac_kat) == 0)
            pass("HMAC-SHA256 known answer");
        else
            fail_msg("HMAC-SHA256 known answer", "the MAC differs from the known answer");
    }
    /* C_Verify of the known answer itself, and of a changed one. */
    CK_BYTE bad[32];
    memcpy(bad, hmac_kat, sizeof bad);
    bad[31] ^= 1;
    if (check("C_VerifyInit HMAC-SHA256", f->C_VerifyInit(s, &mech, key)))
        check("C_Verify HMAC-SHA256 known answer",
              f->C_Verify(s, data, sizeof data - 1, (CK_BYTE_PTR)hmac_kat, sizeof hmac_kat));
    if (check("C_VerifyInit HMAC-SHA256 (changed MAC)", f->C_VerifyInit(s, &mech, key)))
        expect("C_Verify HMAC-SHA256 changed MAC",
               f->C_Verify(s, data, sizeof data - 1, bad, sizeof bad), CKR_SIGNATURE_INVALID);
    return check("C_DestroyObject generic secret", f->C_DestroyObject(s, key));
}

/* AES-GCM of an imported key against a published answer: the round trip of aes_gcm() alone
 * would pass a module whose encryption and decryption were wrong the same way. */
static int aes_gcm_known_answer(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BYTE value[16];
    memset(value, 0, sizeof value);
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_KEY_TYPE, &kt, sizeof kt},
        {CKA_VALUE, value, sizeof value},
        {CKA_ENCRYPT, &yes, sizeof yes},
        {CKA_TOKEN, &no, sizeof no},
    };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    if (!check("C_CreateObject AES-128 zero key", f->C_CreateObject(s, tmpl, 5, &key)))
        return 0;
    CK_BYTE iv[12];
    memset(iv, 0, sizeof iv);
    CK_GCM_PARAMS gcm;
    memset(&gcm, 0, sizeof gcm);
    gcm.pIv = iv;
    gcm.ulIvLen = sizeof iv;
    gcm.ulIvBits = 96;
    gcm.ulTagBits = 128;
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof gcm};
    CK_BYTE plain[16], cipher[64];
    memset(plain, 0, sizeof plain);
    CK_ULONG cipher_len = sizeof cipher;
    if (check("C_EncryptInit AES-GCM test case 2", f->C_EncryptInit(s, &mech, key)) &&
        check("C_Encrypt AES-GCM test case 2",
              f->C_Encrypt(s, plain, sizeof plain, cipher, &cipher_len))) {
        if (cipher_len == sizeof gcm_tc2 && memcmp(cipher, gcm_tc2, sizeof gcm_tc2) == 0)
            pass("AES-GCM known answer");
        else
            fail_msg("AES-GCM known answer", "ciphertext or tag differs from test case 2");
    }
    return check("C_DestroyObject AES-128 zero key", f->C_DestroyObject(s, key));
}

/* A token object: written to the token file (sealed), found, read back and destroyed. */
static int token_object(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BYTE label[] = "valgrind-object";
    CK_BYTE value[] = "stored on the token";
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_TOKEN, &yes, sizeof yes},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_LABEL, label, sizeof label - 1},
        {CKA_VALUE, value, sizeof value - 1},
    };
    CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE, found[4];
    CK_ULONG n = 0;
    if (!check("C_CreateObject token data object", f->C_CreateObject(s, tmpl, 5, &obj)))
        return 0;
    if (check("C_FindObjectsInit by label", f->C_FindObjectsInit(s, tmpl + 3, 1))) {
        check("C_FindObjects", f->C_FindObjects(s, found, 4, &n));
        check("C_FindObjectsFinal", f->C_FindObjectsFinal(s));
        if (n == 1 && found[0] == obj)
            pass("token object found");
        else
            fail_msg("token object found", "not exactly the object created");
    }
    CK_BYTE buf[64];
    CK_ATTRIBUTE get = {CKA_VALUE, buf, sizeof buf};
    if (check("C_GetAttributeValue CKA_VALUE", f->C_GetAttributeValue(s, obj, &get, 1))) {
        if (get.ulValueLen == sizeof value - 1 && memcmp(buf, value, sizeof value - 1) == 0)
            pass("token object value");
        else
            fail_msg("token object value", "differs");
    }
    return check("C_DestroyObject token data object", f->C_DestroyObject(s, obj));
}

static int finish(void)
{
    printf("valgrind-client: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODULE.so TOKEN_LABEL USER_PIN\n", argv[0]);
        return 2;
    }
    const char *module = argv[1], *label = argv[2], *pin = argv[3];
    CK_FUNCTION_LIST_PTR f = NULL;
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    CK_SLOT_ID *slots = NULL;
    int initialized = 0, logged_in = 0;

    void *lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fail_msg("dlopen", dlerror());
        return finish();
    }
    pass("dlopen");
    CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    if (gfl == NULL || !check("C_GetFunctionList", gfl(&f)) || f == NULL)
        goto out;

    CK_C_INITIALIZE_ARGS init_args;
    memset(&init_args, 0, sizeof init_args);
    init_args.flags = CKF_OS_LOCKING_OK;
    if (!check("C_Initialize", f->C_Initialize(&init_args)))
        goto out;
    initialized = 1;

    CK_ULONG count = 0;
    if (!check("C_GetSlotList size", f->C_GetSlotList(CK_TRUE, NULL, &count)) || count == 0)
        goto out;
    slots = calloc(count, sizeof *slots);
    if (slots == NULL || !check("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &count)))
        goto out;
    CK_SLOT_ID slot = 0;
    int found = 0;
    CK_UTF8CHAR want[32];
    memset(want, ' ', sizeof want);
    memcpy(want, label, strlen(label) < 32 ? strlen(label) : 32);
    for (CK_ULONG i = 0; i < count && !found; i++) {
        CK_TOKEN_INFO info;
        if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK && memcmp(info.label, want, 32) == 0) {
            slot = slots[i];
            found = 1;
        }
    }
    if (!found) {
        fail_msg("find token", "no token with that label");
        goto out;
    }
    pass("find token");

    if (!check("C_OpenSession",
               f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s)))
        goto out;
    if (!check("C_Login user", f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin))))
        goto out;
    logged_in = 1;

    CK_BYTE small[32], *large = malloc(8192);
    check("C_GenerateRandom 32", f->C_GenerateRandom(s, small, sizeof small));
    if (large != NULL)
        check("C_GenerateRandom 8192", f->C_GenerateRandom(s, large, 8192));
    free(large);

    aes_gcm(f, s);
    ecdsa(f, s);
    digest(f, s);
    hmac(f, s);
    aes_gcm_known_answer(f, s);
    token_object(f, s);

out:
    if (logged_in)
        check("C_Logout", f->C_Logout(s));
    if (s != CK_INVALID_HANDLE)
        check("C_CloseSession", f->C_CloseSession(s));
    if (initialized)
        check("C_Finalize", f->C_Finalize(NULL));
    free(slots);
    if (dlclose(lib) == 0)
        pass("dlclose");
    else
        fail_msg("dlclose", dlerror());
    return finish();
}
