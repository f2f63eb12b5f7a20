//! Model names: the rule every name in a URL, a body or a file name must follow, and the
//! names the service gives new models (`DD-MM-YYYY_HHhMMmSSsT_{x}X{y}_{N}N_{lr}LR`).

use jiff::Timestamp;

use super::StorageError;

/// Longest name accepted.
pub const MAX_NAME_LEN: usize = 200;

/// Checks that `name` is 1-200 ASCII letters, digits, `.`, `_` or `-`, not starting with `.`
/// nor ending in `.npy`: such a name can never leave the models folder nor collide with a
/// temporary or intent file, and `/download/NAME.npy` (which drops the suffix) always means
/// `NAME`.
pub fn validate_name(name: &str) -> Result<(), StorageError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name.starts_with('.')
        || name.ends_with(".npy")
        || !name.chars().all(allowed)
    {
        return Err(StorageError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// The name of a model whose training was accepted at `accepted`, as the Python service
/// named them: `05-03-2021_19h55m13sT_10X10_100N_0.1LR`; a batch training, which has no
/// learning rate (`None`), ends `_100N_batch`.
pub fn model_name(
    accepted: Timestamp,
    [rows, cols]: [usize; 2],
    max_iterations: usize,
    learning_rate: Option<f64>,
) -> String {
    let time = accepted.strftime("%d-%m-%Y_%Hh%Mm%SsT");
    match learning_rate {
        Some(rate) => {
            let lr = python_float_repr(rate);
            format!("{time}_{rows}X{cols}_{max_iterations}N_{lr}LR")
        }
        None => format!("{time}_{rows}X{cols}_{max_iterations}N_batch"),
    }
}

/// A float as Python's `repr` prints it: the shortest digits that read back to the same
/// value, in positional notation from 1e-4 up to 1e16 (with at least one decimal: `1.0`) and
/// in scientific notation outside (`1e-05`, `1.5e+16`).
pub fn python_float_repr(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan"
        } else if value > 0.0 {
            "inf"
        } else {
            "-inf"
        }
        .into();
    }
    if value == 0.0 {
        return if value.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .into();
    }
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always writes an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} writes an integer exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if value < 0.0 { "-" } else { "" };
    let point = exponent + 1;
    if !(-4 < point && point <= 16) {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{fraction}e{exp_sign}{:02}", exponent.abs());
    }
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
    } else {
        let (whole, fraction) = digits.split_at(point as usize);
        format!("{whole}.{fraction}")
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_python_repr_does() {
        let cases = [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (0.05, "0.05"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.00012, "0.00012"),
            (1.5e-7, "1.5e-07"),
            (0.30000000000000004, "0.30000000000000004"),
            (123.25, "123.25"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
        ];
        for (value, repr) in cases {
            assert_eq!(python_float_repr(value), repr, "{value}");
        }
    }

    #[test]
    fn model_names_follow_the_original_pattern() {
        let accepted: Timestamp = "2021-03-05T19:55:13Z".parse().unwrap();
        assert_eq!(
            model_name(accepted, [10, 10], 100, Some(0.1)),
            "05-03-2021_19h55m13sT_10X10_100N_0.1LR"
        );
        assert_eq!(
            model_name(accepted, [3, 40], 7, Some(1e-5)),
            "05-03-2021_19h55m13sT_3X40_7N_1e-05LR"
        );
    }

    #[test]
    fn names_that_could_leave_the_folder_are_refused() {
        for bad in [
            "",
            "../x",
            "%2e%2e",
            "/etc/passwd",
            "a b",
            ".hidden",
            "a/b",
            "é",
            "a\\b",
            "10X10_100N.npy",
            "x.npy",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        assert!(validate_name(&"a".repeat(201)).is_err());
        for good in [
            "10X10_100N",
            "05-03-2021_19h55m13sT_10X10_100N_0.1LR_2",
            "a.b",
        ] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
        assert!(validate_name(&"a".repeat(200)).is_ok());
    }
}
