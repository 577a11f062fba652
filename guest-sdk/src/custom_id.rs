//! Custom ids of buttons, selects and modals.
//!
//! A custom id is the cog's own: the host keeps each cog's ids apart (it
//! adds the cog's name on the way to Discord and takes it off on the way
//! back), so a click reaches the cog that made the button, whatever the
//! operator named it, and no other cog can make a button that reaches it.
//! An id may be up to 100 characters, less the cog's name and one.
//!
//! The SDK's convention is a name and arguments joined by `:`, built with
//! [`custom_id!`](crate::custom_id) and read back with [`CustomId`]:
//!
//! ```
//! use baseline_sdk::{CustomId, custom_id};
//!
//! let id = custom_id!("again", 6, 2);
//! assert_eq!(id, "again:6:2");
//!
//! let read = CustomId::parse(&id);
//! assert_eq!(read.name(), "again");
//! let sides: u32 = read.arg(0).unwrap();
//! let count: u32 = read.arg(1).unwrap();
//! assert_eq!((sides, count), (6, 2));
//! assert!(read.arg::<u32>(2).is_err());
//! ```

use std::str::FromStr;

use crate::{CogError, ComponentInvocation};

/// Build a custom id from a name and arguments (anything `Display`),
/// joined by `:`. An argument holding `:` itself can only be read back as
/// the last one, with [`CustomId::rest`].
///
/// ```
/// # use baseline_sdk::custom_id;
/// assert_eq!(custom_id!("vote", "yes"), "vote:yes");
/// assert_eq!(custom_id!("page"), "page");
/// ```
#[macro_export]
macro_rules! custom_id {
    ($name:expr $(, $arg:expr)* $(,)?) => {{
        let mut id = ::std::string::String::from($name);
        $(
            id.push(':');
            id.push_str(&::std::string::ToString::to_string(&$arg));
        )*
        id
    }};
}

/// A custom id read back: its name and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomId<'a> {
    raw: &'a str,
    name: &'a str,
    args: Vec<&'a str>,
}

impl<'a> CustomId<'a> {
    /// Split `raw` at its `:`s.
    pub fn parse(raw: &'a str) -> Self {
        let mut parts = raw.split(':');
        let name = parts.next().unwrap_or("");
        Self {
            raw,
            name,
            args: parts.collect(),
        }
    }

    /// The id as the cog wrote it.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Its name, the part before the first `:`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// How many arguments follow the name.
    pub fn args(&self) -> usize {
        self.args.len()
    }

    /// Argument `index` (0 is the first after the name), parsed. A missing
    /// or unparsable argument is an internal error naming the id (a button
    /// of an older version of the cog, or a bug).
    ///
    /// ```
    /// # use baseline_sdk::{CogError, CustomId};
    /// let id = CustomId::parse("again:6:x");
    /// assert_eq!(id.arg::<u32>(0).unwrap(), 6);
    /// let Err(CogError::Internal(why)) = id.arg::<u32>(1) else { panic!() };
    /// assert!(why.contains("again:6:x") && why.contains("argument 1"));
    /// assert!(id.arg::<u32>(2).is_err());
    /// ```
    pub fn arg<T: FromStr>(&self, index: usize) -> Result<T, CogError> {
        let part = self.args.get(index).ok_or_else(|| {
            CogError::Internal(format!("custom id `{}` has no argument {index}", self.raw))
        })?;
        part.parse().map_err(|_| {
            CogError::Internal(format!(
                "custom id `{}`: argument {index} (`{part}`) is not a {}",
                self.raw,
                std::any::type_name::<T>()
            ))
        })
    }

    /// Everything from argument `index` on, `:`s included: for a last
    /// argument that may hold `:` itself.
    ///
    /// ```
    /// # use baseline_sdk::{CustomId, custom_id};
    /// let id = custom_id!("open", "https://example.com/a");
    /// assert_eq!(CustomId::parse(&id).rest(0).unwrap(), "https://example.com/a");
    /// ```
    pub fn rest(&self, index: usize) -> Result<&'a str, CogError> {
        let skip = self.name.len()
            + 1
            + self.args[..index.min(self.args.len())]
                .iter()
                .map(|a| a.len() + 1)
                .sum::<usize>();
        if index >= self.args.len() {
            return Err(CogError::Internal(format!(
                "custom id `{}` has no argument {index}",
                self.raw
            )));
        }
        Ok(&self.raw[skip..])
    }
}

impl ComponentInvocation {
    /// The custom id of the button, select or modal, read back.
    pub fn id(&self) -> CustomId<'_> {
        CustomId::parse(&self.custom_id)
    }
}
