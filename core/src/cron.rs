//! Cron Triggers: the expressions Cloudflare accepts, checked before they are sent (the macro
//! checks literals at compile time).
//!
//! Five fields, as Cloudflare documents them (a Quartz-like syntax, always UTC):
//!
//! | field | values | characters |
//! |---|---|---|
//! | minute | 0-59 | `* , - /` |
//! | hour | 0-23 | `* , - /` |
//! | day of month | 1-31 | `* , - /` and `L` (last day), `W` (nearest weekday: `15W`, `LW`) |
//! | month | 1-12, `JAN`-`DEC` | `* , - /` |
//! | day of week | 1-7 (1 is Sunday), `SUN`-`SAT` | `* , - /` and `L` (`6L`: last Friday), `#` (`MON#2`) |
//!
//! Names are case-insensitive three-letter abbreviations.

use std::fmt;

/// Why a cron expression is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// What is wrong, naming the field.
    pub reason: String,
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for CronError {}

/// One field's rules.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Day of month: `L`, `LW`, `nW`.
    month_day_specials: bool,
    /// Day of week: `L`, `nL`, `n#k`.
    week_day_specials: bool,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        month_day_specials: false,
        week_day_specials: false,
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        month_day_specials: false,
        week_day_specials: false,
    },
    Field {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        month_day_specials: true,
        week_day_specials: false,
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        month_day_specials: false,
        week_day_specials: false,
    },
    Field {
        name: "day of week",
        min: 1,
        max: 7,
        names: WEEKDAYS,
        month_day_specials: false,
        week_day_specials: true,
    },
];

/// Checks a cron expression as Cloudflare reads it.
pub fn check(expr: &str) -> Result<(), CronError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(CronError {
            reason: format!(
                "a cron expression has five fields (minute hour day-of-month month day-of-week), this one has {}",
                fields.len()
            ),
        });
    }
    for (text, field) in fields.iter().zip(FIELDS.iter()) {
        for item in text.split(',') {
            check_item(item, field).map_err(|why| CronError {
                reason: format!("the {} field `{text}`: {why}", field.name),
            })?;
        }
    }
    Ok(())
}

fn check_item(item: &str, field: &Field) -> Result<(), String> {
    if item.is_empty() {
        return Err("an empty item between commas".into());
    }
    let upper = item.to_ascii_uppercase();
    if field.month_day_specials && (upper == "L" || upper == "LW") {
        return Ok(());
    }
    if field.month_day_specials
        && let Some(day) = upper.strip_suffix('W')
    {
        return value(day, field).map(drop);
    }
    if field.week_day_specials {
        if upper == "L" {
            return Ok(());
        }
        if let Some(day) = upper.strip_suffix('L') {
            return value(day, field).map(drop);
        }
        if let Some((day, nth)) = upper.split_once('#') {
            value(day, field)?;
            return match nth.parse::<u32>() {
                Ok(1..=5) => Ok(()),
                _ => Err(format!("`#{nth}` is not a week of the month (1 to 5)")),
            };
        }
    }
    let (range, step) = match upper.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (upper.as_str(), None),
    };
    if let Some(step) = step {
        match step.parse::<u32>() {
            Ok(n) if n >= 1 && n <= field.max => {}
            _ => {
                return Err(format!("`/{step}` is not a step from 1 to {}", field.max));
            }
        }
    }
    if range == "*" {
        return Ok(());
    }
    match range.split_once('-') {
        Some((from, to)) => {
            let (from, to) = (value(from, field)?, value(to, field)?);
            if from > to {
                return Err(format!("the range `{range}` runs backwards"));
            }
            Ok(())
        }
        None => value(range, field).map(drop),
    }
}

/// A number in the field's range, or one of its names.
fn value(text: &str, field: &Field) -> Result<u32, String> {
    if let Some(i) = field.names.iter().position(|n| *n == text) {
        return Ok(field.min + i as u32);
    }
    match text.parse::<u32>() {
        Ok(n) if (field.min..=field.max).contains(&n) => Ok(n),
        Ok(n) => Err(format!("{n} is outside {} to {}", field.min, field.max)),
        Err(_) if field.names.is_empty() => Err(format!("`{text}` is not a number")),
        Err(_) => Err(format!(
            "`{text}` is neither a number from {} to {} nor one of {}",
            field.min,
            field.max,
            field.names.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudflares_documented_examples_are_accepted() {
        for expr in [
            "* * * * *",
            "*/30 * * * *",
            "0 17 * * sun",
            "0 17 * * 1",
            "10 7 * * mon-fri",
            "10 7 * * 2-6",
            "0 15 1 * *",
            "0 18 * * 6L",
            "0 18 * * friL",
            "59 23 LW * *",
            "0 9 L * *",
            "0 10 * * MON#2",
            "*/10 9-17 * * MON-FRI",
            "0 0 15W jan-mar,dec *",
            "5,35 */2 1-15/3 * *",
        ] {
            assert_eq!(check(expr), Ok(()), "{expr}");
        }
    }

    #[test]
    fn mistakes_name_the_field_and_the_rule() {
        let err = |expr: &str| check(expr).unwrap_err().reason;
        assert!(err("* * * *").contains("five fields"));
        assert!(err("60 * * * *").contains("minute"));
        assert!(err("* 24 * * *").contains("outside 0 to 23"));
        assert!(err("* * 0 * *").contains("day of month"));
        assert!(err("* * * 13 *").contains("month"));
        assert!(err("* * * * 0").contains("outside 1 to 7"));
        assert!(err("* * * FOO *").contains("JAN"));
        assert!(err("*/0 * * * *").contains("step"));
        assert!(err("* * * * MON#6").contains("week of the month"));
        assert!(err("* 5-2 * * *").contains("backwards"));
        assert!(err("1,,2 * * * *").contains("empty"));
        assert!(err("* * 3L * *").contains("not a number"));
    }
}
