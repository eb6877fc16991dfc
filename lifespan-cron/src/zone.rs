//! Time zones: IANA names, parsed with the database of chrono-tz.

use std::str::FromStr;

use chrono_tz::Tz;

use crate::CronError;

/// The IANA zone `name`, or the error that suggests the same name in another case.
pub(crate) fn parse(name: &str) -> Result<Tz, CronError> {
    Tz::from_str(name).map_err(|_| CronError::TimeZone {
        zone: name.to_owned(),
        suggestion: zone_names()
            .find(|known| known.eq_ignore_ascii_case(name.trim()))
            .map(str::to_owned),
    })
}

/// The names of the IANA zones that [`check_zone`](crate::check_zone) accepts, for a
/// suggestion of one's own ("did you mean").
pub fn zone_names() -> impl Iterator<Item = &'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|zone| zone.name())
}
