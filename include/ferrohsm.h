/*
 * ferrohsm.h - vendor-defined constants of ferrohsm, a software HSM that is a
 * PKCS#11 v3.0 module (libferrohsm.so).
 *
 * Include it beside any standard pkcs11.h (for example p11-kit's); it includes
 * nothing and defines only macros, so it works with every pkcs11.h flavour.
 * Everything here describes the module's behaviour; the authoritative source is
 * src/config.rs and the README's Configuration section.
 */
#ifndef FERROHSM_H
#define FERROHSM_H

/*
 * CK_INFO.manufacturerID (and CK_TOKEN_INFO.manufacturerID) of the module:
 * this string, blank-padded to 32 bytes, not NUL-terminated, as PKCS#11 requires.
 */
#define FERROHSM_MANUFACTURER "ferrohsm"

/*
 * Environment variables read by C_Initialize.
 *
 * FERROHSM_CONF       path of the TOML configuration file; when unset,
 *                     $XDG_CONFIG_HOME/ferrohsm/ferrohsm.toml (~/.config/... by default)
 *                     is used if it exists. A file named by this variable must exist.
 * FERROHSM_TOKEN_DIR  directory of the token files; overrides the file's token_dir
 *                     (default $XDG_DATA_HOME/ferrohsm/tokens, ~/.local/share/... by default).
 * FERROHSM_LOG        log level, one of off, warn, info, debug; overrides the file's
 *                     log_level (default off).
 */
#define FERROHSM_ENV_CONF "FERROHSM_CONF"
#define FERROHSM_ENV_TOKEN_DIR "FERROHSM_TOKEN_DIR"
#define FERROHSM_ENV_LOG "FERROHSM_LOG"

/*
 * Defaults of the PIN policy (configuration keys max_login_attempts, min_pin_len,
 * max_pin_len). After this many consecutive failed C_Login calls the PIN is locked
 * (CKR_PIN_LOCKED); the SO unlocks the user PIN with C_InitPIN. The PIN length range
 * is reported in CK_TOKEN_INFO.ulMinPinLen / ulMaxPinLen.
 */
#define FERROHSM_DEFAULT_MAX_LOGIN_ATTEMPTS 10UL
#define FERROHSM_DEFAULT_MIN_PIN_LEN 4UL
#define FERROHSM_DEFAULT_MAX_PIN_LEN 255UL

/*
 * Vendor-defined return codes: the range starting at CKR_VENDOR_DEFINED
 * (0x80000000) is reserved for ferrohsm, but no vendor-defined code is used yet.
 * The module returns only return codes defined by the PKCS#11 specification.
 * Likewise no vendor-defined mechanisms (CKM_VENDOR_DEFINED), attributes
 * (CKA_VENDOR_DEFINED) or object classes exist yet.
 */

#endif /* FERROHSM_H */
