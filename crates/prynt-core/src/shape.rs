//! Deserialising JSON objects as objects only.
//!
//! serde's derived `Deserialize` for a struct also takes a JSON array (read as a tuple of the
//! fields in order), so `"screen": [1920, 1080]` would pass for `{"w": 1920, "h": 1080}`. The
//! API documents these members as objects and must refuse anything else; these helpers, used
//! with `#[serde(deserialize_with = …)]`, read the member through a map only.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// `T` read from a JSON object and nothing else.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A member that is an object.
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Obj::<T>::deserialize(d).map(|o| o.0)
}

/// A member that is an object or `null`.
pub fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Option::<Obj<T>>::deserialize(d).map(|o| o.map(|o| o.0))
}

/// A member that is an array of objects.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Vec::<Obj<T>>::deserialize(d).map(|v| v.into_iter().map(|o| o.0).collect())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Pair {
        a: u32,
        b: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    struct Outer {
        #[serde(default, deserialize_with = "super::optional_object")]
        pair: Option<Pair>,
        #[serde(default, deserialize_with = "super::objects")]
        pairs: Vec<Pair>,
    }

    #[test]
    fn objects_pass_and_arrays_do_not() {
        let o: Outer =
            serde_json::from_str(r#"{"pair": {"a": 1}, "pairs": [{"a": 2, "b": 3}]}"#).unwrap();
        assert_eq!(o.pair, Some(Pair { a: 1, b: None }));
        assert_eq!(o.pairs, vec![Pair { a: 2, b: Some(3) }]);
        let o: Outer = serde_json::from_str(r#"{"pair": null}"#).unwrap();
        assert_eq!(o.pair, None);
        assert!(serde_json::from_str::<Outer>(r#"{"pair": [1, 2]}"#).is_err());
        assert!(serde_json::from_str::<Outer>(r#"{"pairs": [[1, 2]]}"#).is_err());
    }
}
