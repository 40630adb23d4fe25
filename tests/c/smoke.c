/*
 * smoke.c - a plain C PKCS#11 client for libferrohsm.so.
 *
 * Build: gcc -Wall -Wextra -Werror -I/usr/include/p11-kit-1 -Iinclude \
 *            tests/c/smoke.c -o smoke -ldl
 * Run:   ./smoke MODULE.so TOKEN_LABEL USER_PIN
 *
 * dlopens the module, checks C_GetFunctionList and C_GetInterface("PKCS 11", 3.0),
 * initializes with CKF_OS_LOCKING_OK, checks C_GetInfo, finds the token by label, opens an
 * R/W session, logs in as user, creates a private session data object, finds it, reads it
 * back (size query, then fetch), destroys it, logs out, closes, finalizes and dlcloses.
 * Prints `PASS name` or `FAIL name: CKR 0x...` per step; exits non-zero on any failure.
 *
 * The ferrohsm-specific checks (manufacturer, cryptoki version 3.0, C_GetInterface) can be
 * turned off with SMOKE_FOREIGN_MODULE=1, for a dry run against another module such as
 * SoftHSMv2; they are reported as SKIP then. scripts/test never sets it.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* p11-kit's pkcs11.h needs no platform macros; without CRYPTOKI_GNU it offers the
 * standard CK_* names (its CRYPTOKI_COMPAT mode, the default). */
#include <p11-kit/pkcs11.h>

#include "ferrohsm.h"

_Static_assert(FERROHSM_DEFAULT_MIN_PIN_LEN <= FERROHSM_DEFAULT_MAX_PIN_LEN, "PIN length range");
_Static_assert(FERROHSM_DEFAULT_MAX_LOGIN_ATTEMPTS > 0, "max login attempts");

/*
 * PKCS#11 3.0 interface types. Debian 12's p11-kit pkcs11.h is a 2.40 header without them,
 * so they are declared here under local names, with the layout of the 3.0 specification.
 */
typedef struct {
    CK_UTF8CHAR *pInterfaceName;
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags;
} smoke_interface;

typedef CK_RV (*smoke_get_interface_fn)(CK_UTF8CHAR *pInterfaceName, CK_VERSION *pVersion,
                                        smoke_interface **ppInterface, CK_FLAGS flags);

static int passed, failed, skipped;

static void pass(const char *name)
{
    printf("PASS %s\n", name);
    passed++;
}

static void fail_rv(const char *name, CK_RV rv)
{
    printf("FAIL %s: CKR 0x%08lx\n", name, (unsigned long)rv);
    failed++;
}

static void fail_msg(const char *name, const char *why)
{
    printf("FAIL %s: %s\n", name, why);
    failed++;
}

static void skip(const char *name)
{
    printf("SKIP %s (SMOKE_FOREIGN_MODULE is set)\n", name);
    skipped++;
}

/* Records the step and returns 1 when rv is CKR_OK. */
static int check(const char *name, CK_RV rv)
{
    if (rv == CKR_OK) {
        pass(name);
        return 1;
    }
    fail_rv(name, rv);
    return 0;
}

/* Copies s into a blank-padded, not NUL-terminated PKCS#11 string field of len bytes. */
static void pad(unsigned char *dst, size_t len, const char *s)
{
    size_t n = strlen(s);
    memset(dst, ' ', len);
    memcpy(dst, s, n < len ? n : len);
}

static int finish(void)
{
    printf("smoke: %d checks passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODULE.so TOKEN_LABEL USER_PIN\n", argv[0]);
        return 2;
    }
    const char *module = argv[1], *label = argv[2], *pin = argv[3];
    const char *foreign_env = getenv("SMOKE_FOREIGN_MODULE");
    int foreign = foreign_env != NULL && foreign_env[0] != '\0' && strcmp(foreign_env, "0") != 0;

    CK_FUNCTION_LIST_PTR f = NULL;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    CK_SLOT_ID *slots = NULL;
    CK_BYTE *value_buf = NULL, *label_buf = NULL;
    int initialized = 0, logged_in = 0;
    CK_RV rv;

    /* ---- Load the module ---------------------------------------------------------------- */
    void *lib = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fail_msg("dlopen", dlerror());
        return finish();
    }
    pass("dlopen");

    CK_C_GetFunctionList get_function_list = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
    if (get_function_list == NULL) {
        fail_msg("dlsym C_GetFunctionList", "symbol not exported");
        goto out;
    }
    if (!check("C_GetFunctionList", get_function_list(&f)))
        goto out;
    if (f == NULL) {
        fail_msg("C_GetFunctionList list", "NULL function list");
        goto out;
    }
    if (f->version.major == 2 && f->version.minor == 40)
        pass("C_GetFunctionList list version 2.40");
    else {
        printf("    got version %u.%u\n", f->version.major, f->version.minor);
        fail_msg("C_GetFunctionList list version 2.40", "wrong version");
    }

    /* ---- C_GetInterface("PKCS 11", 3.0) ------------------------------------------------- */
    if (foreign) {
        skip("C_GetInterface PKCS 11 3.0");
    } else {
        smoke_get_interface_fn get_interface =
            (smoke_get_interface_fn)dlsym(lib, "C_GetInterface");
        if (get_interface == NULL) {
            fail_msg("dlsym C_GetInterface", "symbol not exported");
        } else {
            CK_VERSION v30 = {3, 0};
            smoke_interface *iface = NULL;
            rv = get_interface((CK_UTF8CHAR *)"PKCS 11", &v30, &iface, 0);
            if (check("C_GetInterface PKCS 11 3.0", rv)) {
                if (iface == NULL || iface->pFunctionList == NULL || iface->pInterfaceName == NULL)
                    fail_msg("C_GetInterface result", "NULL interface or function list");
                else if (strcmp((const char *)iface->pInterfaceName, "PKCS 11") != 0)
                    fail_msg("C_GetInterface interface name", (const char *)iface->pInterfaceName);
                else {
                    pass("C_GetInterface result");
                    /* Every 3.0 function list starts with its CK_VERSION and the 2.40 slots. */
                    CK_FUNCTION_LIST_PTR f30 = (CK_FUNCTION_LIST_PTR)iface->pFunctionList;
                    if (f30->version.major == 3 && f30->version.minor == 0)
                        pass("C_GetInterface list version 3.0");
                    else {
                        printf("    got version %u.%u\n", f30->version.major,
                               f30->version.minor);
                        fail_msg("C_GetInterface list version 3.0", "wrong version");
                    }
                    if (f30->C_Initialize != NULL && f30->C_GetInfo != NULL &&
                        f30->C_WaitForSlotEvent != NULL)
                        pass("C_GetInterface list entries are set");
                    else
                        fail_msg("C_GetInterface list entries are set", "NULL entry");
                }
            }
        }
    }

    /* ---- C_Initialize, C_GetInfo --------------------------------------------------------- */
    CK_C_INITIALIZE_ARGS init_args;
    memset(&init_args, 0, sizeof init_args);
    init_args.flags = CKF_OS_LOCKING_OK;
    if (!check("C_Initialize (CKF_OS_LOCKING_OK)", f->C_Initialize(&init_args)))
        goto out;
    initialized = 1;

    CK_INFO info;
    if (check("C_GetInfo", f->C_GetInfo(&info))) {
        if (foreign) {
            skip("C_GetInfo manufacturer is " FERROHSM_MANUFACTURER);
            skip("C_GetInfo cryptoki version 3.0");
        } else {
            unsigned char want[sizeof info.manufacturerID];
            pad(want, sizeof want, FERROHSM_MANUFACTURER);
            if (memcmp(info.manufacturerID, want, sizeof want) == 0)
                pass("C_GetInfo manufacturer is " FERROHSM_MANUFACTURER);
            else {
                printf("    got '%.*s'\n", (int)sizeof info.manufacturerID,
                       (const char *)info.manufacturerID);
                fail_msg("C_GetInfo manufacturer is " FERROHSM_MANUFACTURER, "mismatch");
            }
            if (info.cryptokiVersion.major == 3 && info.cryptokiVersion.minor == 0)
                pass("C_GetInfo cryptoki version 3.0");
            else
                fail_msg("C_GetInfo cryptoki version 3.0", "wrong version");
        }
    }

    /* ---- Find the token ------------------------------------------------------------------ */
    CK_ULONG nslots = 0;
    if (!check("C_GetSlotList (size query)", f->C_GetSlotList(CK_TRUE, NULL, &nslots)))
        goto out;
    if (nslots == 0) {
        fail_msg("C_GetSlotList", "no slot with a token");
        goto out;
    }
    slots = calloc(nslots, sizeof *slots);
    if (slots == NULL) {
        fail_msg("calloc", "out of memory");
        goto out;
    }
    if (!check("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &nslots)))
        goto out;

    unsigned char want_label[32];
    pad(want_label, sizeof want_label, label);
    CK_SLOT_ID slot = 0;
    CK_TOKEN_INFO ti;
    int found = 0;
    for (CK_ULONG i = 0; i < nslots && !found; i++) {
        rv = f->C_GetTokenInfo(slots[i], &ti);
        if (rv != CKR_OK) {
            fail_rv("C_GetTokenInfo", rv);
            continue;
        }
        if (memcmp(ti.label, want_label, sizeof want_label) == 0 &&
            (ti.flags & CKF_TOKEN_INITIALIZED)) {
            slot = slots[i];
            found = 1;
        }
    }
    if (!found) {
        fail_msg("find token", label);
        goto out;
    }
    pass("find token by label (C_GetTokenInfo)");
    /* scripts/test's configuration leaves the PIN policy at its defaults. */
    if (foreign)
        skip("C_GetTokenInfo PIN length range is the default");
    else if (ti.ulMinPinLen == FERROHSM_DEFAULT_MIN_PIN_LEN &&
             ti.ulMaxPinLen == FERROHSM_DEFAULT_MAX_PIN_LEN)
        pass("C_GetTokenInfo PIN length range is the default");
    else {
        printf("    got %lu..%lu\n", (unsigned long)ti.ulMinPinLen, (unsigned long)ti.ulMaxPinLen);
        fail_msg("C_GetTokenInfo PIN length range is the default", "mismatch");
    }

    /* ---- Session and login --------------------------------------------------------------- */
    if (!check("C_OpenSession (R/W)",
               f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session)))
        goto out;
    if (!check("C_Login (user)",
               f->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)pin, (CK_ULONG)strlen(pin))))
        goto out;
    logged_in = 1;

    CK_SESSION_INFO si;
    if (check("C_GetSessionInfo", f->C_GetSessionInfo(session, &si))) {
        if (si.state == CKS_RW_USER_FUNCTIONS)
            pass("session state is CKS_RW_USER_FUNCTIONS");
        else
            fail_msg("session state is CKS_RW_USER_FUNCTIONS", "wrong state");
    }

    /* ---- A private session data object --------------------------------------------------- */
    static const char obj_label[] = "ferrohsm-smoke";
    static const char obj_app[] = "tests/c/smoke.c";
    static const CK_BYTE obj_value[] = {0x00, 0x01, 0x02, 0xfe, 0xff, 's', 'm', 'o', 'k', 'e'};
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_TOKEN, &no, sizeof no},
        {CKA_PRIVATE, &yes, sizeof yes},
        {CKA_LABEL, (void *)obj_label, sizeof obj_label - 1},
        {CKA_APPLICATION, (void *)obj_app, sizeof obj_app - 1},
        {CKA_VALUE, (void *)obj_value, sizeof obj_value},
    };
    if (!check("C_CreateObject (session data object)",
               f->C_CreateObject(session, tmpl, sizeof tmpl / sizeof tmpl[0], &object)))
        goto out;

    CK_ATTRIBUTE find_tmpl[] = {
        {CKA_CLASS, &cls, sizeof cls},
        {CKA_LABEL, (void *)obj_label, sizeof obj_label - 1},
    };
    if (check("C_FindObjectsInit", f->C_FindObjectsInit(session, find_tmpl, 2))) {
        CK_OBJECT_HANDLE hits[4];
        CK_ULONG nhits = 0;
        if (check("C_FindObjects", f->C_FindObjects(session, hits, 4, &nhits))) {
            if (nhits == 1 && hits[0] == object)
                pass("C_FindObjects finds the object");
            else
                fail_msg("C_FindObjects finds the object", "wrong hits");
        }
        check("C_FindObjectsFinal", f->C_FindObjectsFinal(session));
    }

    CK_ATTRIBUTE get[] = {
        {CKA_VALUE, NULL, 0},
        {CKA_LABEL, NULL, 0},
    };
    if (check("C_GetAttributeValue (size query)", f->C_GetAttributeValue(session, object, get, 2))) {
        if (get[0].ulValueLen != sizeof obj_value || get[1].ulValueLen != sizeof obj_label - 1) {
            fail_msg("C_GetAttributeValue sizes", "wrong lengths");
        } else {
            pass("C_GetAttributeValue sizes");
            value_buf = malloc(get[0].ulValueLen);
            label_buf = malloc(get[1].ulValueLen);
            if (value_buf == NULL || label_buf == NULL) {
                fail_msg("malloc", "out of memory");
                goto out;
            }
            get[0].pValue = value_buf;
            get[1].pValue = label_buf;
            if (check("C_GetAttributeValue (fetch)",
                      f->C_GetAttributeValue(session, object, get, 2))) {
                if (get[0].ulValueLen == sizeof obj_value &&
                    memcmp(value_buf, obj_value, sizeof obj_value) == 0 &&
                    get[1].ulValueLen == sizeof obj_label - 1 &&
                    memcmp(label_buf, obj_label, sizeof obj_label - 1) == 0)
                    pass("C_GetAttributeValue values match");
                else
                    fail_msg("C_GetAttributeValue values match", "mismatch");
            }
        }
    }

    if (check("C_DestroyObject", f->C_DestroyObject(session, object))) {
        CK_ATTRIBUTE again = {CKA_VALUE, NULL, 0};
        rv = f->C_GetAttributeValue(session, object, &again, 1);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            pass("destroyed object handle is invalid");
        else
            fail_rv("destroyed object handle is invalid", rv);
        object = CK_INVALID_HANDLE;
    }

    /* ---- Tear down ----------------------------------------------------------------------- */
    if (check("C_Logout", f->C_Logout(session)))
        logged_in = 0;
    if (check("C_CloseSession", f->C_CloseSession(session)))
        session = CK_INVALID_HANDLE;
    if (check("C_Finalize", f->C_Finalize(NULL)))
        initialized = 0;

out:
    /* Best-effort cleanup after an early failure; not counted as steps. */
    if (initialized) {
        if (logged_in && session != CK_INVALID_HANDLE)
            f->C_Logout(session);
        if (session != CK_INVALID_HANDLE)
            f->C_CloseSession(session);
        f->C_Finalize(NULL);
    }
    free(slots);
    free(value_buf);
    free(label_buf);
    if (dlclose(lib) == 0)
        pass("dlclose");
    else
        fail_msg("dlclose", dlerror());
    return finish();
}
