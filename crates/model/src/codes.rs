//! Codes with a published form: ISO 3166-2 regions, ISO 4217 currencies and the Chinese
//! unified social credit code of GB 32100-2015.

use crate::validated::validated_string;

/// `^[A-Z]{2}-[A-Z0-9]{1,3}$`, e.g. `CN-31` (Shanghai).
pub fn check_region(value: &str) -> Result<(), &'static str> {
    let b = value.as_bytes();
    let ok = (4..=6).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && b[2] == b'-'
        && b[3..].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    if ok { Ok(()) } else { Err("expected an ISO 3166-2 code such as CN-31") }
}

validated_string!(
    /// An ISO 3166-2 subdivision.
    Region, "region", check_region,
    schema = schemars::json_schema!({
        "type": "string",
        "pattern": "^[A-Z]{2}-[A-Z0-9]{1,3}$",
        "description": "An ISO 3166-2 subdivision code such as CN-31 (Shanghai). The form is checked, \
            not that the code is assigned.",
    })
);

/// Three upper-case letters.
pub fn check_currency(value: &str) -> Result<(), &'static str> {
    let b = value.as_bytes();
    if b.len() == 3 && b.iter().all(u8::is_ascii_uppercase) {
        Ok(())
    } else {
        Err("expected an ISO 4217 code of three upper-case letters such as CNY")
    }
}

validated_string!(
    /// An ISO 4217 currency code.
    Currency, "currency", check_currency,
    schema = schemars::json_schema!({
        "type": "string",
        "pattern": "^[A-Z]{3}$",
        "description": "An ISO 4217 currency code such as CNY: three upper-case letters. The form is \
            checked, not that the code is assigned.",
    })
);

/// The 31 characters of GB 32100-2015, in the order of their values 0..=30
/// (no I, O, S, V or Z).
const CREDIT_CODE_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weight of position i (1-based) is 3^(i-1) mod 31.
const CREDIT_CODE_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The check character that GB 32100-2015 puts in position 18 after these 17 characters, or
/// `None` if one of them is outside the code's alphabet.
pub fn credit_code_check_char(first17: &[u8]) -> Option<char> {
    debug_assert_eq!(first17.len(), 17);
    let mut sum = 0u32;
    for (c, weight) in first17.iter().zip(CREDIT_CODE_WEIGHTS) {
        let value = CREDIT_CODE_ALPHABET.iter().position(|a| a == c)? as u32;
        sum += value * weight;
    }
    let check = (31 - sum % 31) % 31;
    Some(CREDIT_CODE_ALPHABET[check as usize] as char)
}

pub fn check_credit_code(value: &str) -> Result<(), &'static str> {
    let b = value.as_bytes();
    if b.len() != 18 {
        return Err("a unified social credit code has 18 characters");
    }
    let Some(expected) = credit_code_check_char(&b[..17]) else {
        return Err("only digits and the letters A-H, J-N, P-R, T, U, W-Y may appear");
    };
    if b[17] as char != expected {
        return Err("the check character (18th) does not match the first 17 (GB 32100-2015)");
    }
    Ok(())
}

validated_string!(
    /// The 18-character unified social credit code of a Chinese legal entity.
    CreditCode, "credit code", check_credit_code,
    schema = schemars::json_schema!({
        "type": "string",
        "pattern": "^[0-9A-HJ-NPQRTUWXY]{18}$",
        "description": "The 18-character unified social credit code of a Chinese legal entity \
            (GB 32100-2015): digits and the letters A-H, J-N, P-R, T, U, W-Y. The 18th character \
            is a check character computed from the first 17 (weighted sum modulo 31); the schema \
            cannot check it, the ledger does and refuses a code whose check character is wrong.",
    })
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_codes_of_real_companies_pass() {
        // Published codes of well-known companies, from their business licences.
        for code in ["91110108551385082Q", "91330100799655058B", "91440300708461136T"] {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
    }

    #[test]
    fn a_changed_character_fails_the_check() {
        let err = CreditCode::parse("91110108551385082R").unwrap_err().to_string();
        assert!(err.contains("check character"), "{err}");
        let err = CreditCode::parse("9111010855138508IQ").unwrap_err().to_string();
        assert!(err.contains("only digits"), "{err}");
        let err = CreditCode::parse("9111010855138508").unwrap_err().to_string();
        assert!(err.contains("18 characters"), "{err}");
    }

    #[test]
    fn regions_and_currencies() {
        assert!(Region::parse("CN-31").is_ok());
        assert!(Region::parse("CN-HK").is_ok());
        assert!(Region::parse("cn-31").is_err());
        assert!(Region::parse("CN31").is_err());
        assert!(Currency::parse("CNY").is_ok());
        assert!(Currency::parse("cny").is_err());
        assert!(Currency::parse("CNYX").is_err());
    }
}
