//! Entry points not implemented: the dual-function calls, message-based signing and
//! verification (PKCS#11 v3.0 §5.14, §5.17) and the v3.2 additions. Each returns
//! `CKR_FUNCTION_NOT_SUPPORTED` once the module is initialized; the README's function table
//! lists them.
#![allow(non_snake_case)]

use super::guard;
use cryptoki_sys::*;
use std::ffi::c_void;

macro_rules! unsupported {
    ($($name:ident($($arg:ident: $ty:ty),* $(,)?);)*) => {
        $(
            /// Not implemented yet: `CKR_FUNCTION_NOT_SUPPORTED`.
            #[no_mangle]
            pub extern "C" fn $name($($arg: $ty),*) -> CK_RV {
                $(let _ = $arg;)*
                guard::not_supported(stringify!($name))
            }
        )*
    };
}

type S = CK_SESSION_HANDLE;
type O = CK_OBJECT_HANDLE;
type B = *mut CK_BYTE;
type L = CK_ULONG;
type LP = *mut CK_ULONG;
type M = *mut CK_MECHANISM;
type A = *mut CK_ATTRIBUTE;
type P = *mut c_void;

unsupported! {
    C_DigestEncryptUpdate(h: S, d: B, dl: L, o: B, ol: LP);
    C_DecryptDigestUpdate(h: S, d: B, dl: L, o: B, ol: LP);
    C_SignEncryptUpdate(h: S, d: B, dl: L, o: B, ol: LP);
    C_DecryptVerifyUpdate(h: S, d: B, dl: L, o: B, ol: LP);
    C_MessageSignInit(h: S, m: M, k: O);
    C_SignMessage(h: S, p: P, pl: L, d: B, dl: L, s: B, sl: LP);
    C_SignMessageBegin(h: S, p: P, pl: L);
    C_SignMessageNext(h: S, p: P, pl: L, d: B, dl: L, s: B, sl: LP);
    C_MessageSignFinal(h: S);
    C_MessageVerifyInit(h: S, m: M, k: O);
    C_VerifyMessage(h: S, p: P, pl: L, d: B, dl: L, s: B, sl: L);
    C_VerifyMessageBegin(h: S, p: P, pl: L);
    C_VerifyMessageNext(h: S, p: P, pl: L, d: B, dl: L, s: B, sl: L);
    C_MessageVerifyFinal(h: S);
    C_EncapsulateKey(h: S, m: M, k: O, t: A, n: L, c: B, cl: LP, o: *mut O);
    C_DecapsulateKey(h: S, m: M, k: O, t: A, n: L, c: B, cl: L, o: *mut O);
    C_VerifySignatureInit(h: S, m: M, k: O, s: B, sl: L);
    C_VerifySignature(h: S, d: B, dl: L);
    C_VerifySignatureUpdate(h: S, d: B, dl: L);
    C_VerifySignatureFinal(h: S);
    C_GetSessionValidationFlags(h: S, t: CK_SESSION_VALIDATION_FLAGS_TYPE, f: *mut CK_FLAGS);
    C_AsyncComplete(h: S, n: *mut CK_UTF8CHAR, r: *mut CK_ASYNC_DATA);
    C_AsyncGetID(h: S, n: *mut CK_UTF8CHAR, id: LP);
    C_AsyncJoin(h: S, n: *mut CK_UTF8CHAR, id: L, d: B, dl: L);
    C_WrapKeyAuthenticated(h: S, m: M, w: O, k: O, a: B, al: L, o: B, ol: LP);
    C_UnwrapKeyAuthenticated(h: S, m: M, u: O, w: B, wl: L, t: A, n: L, a: B, al: L, k: *mut O);
}
