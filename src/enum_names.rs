//! The names enums are written with in text (`as_str`, through strum) are the names
//! serde writes into plan.json, results.jsonl and the driver's arguments, for every
//! variant: the two derives cannot drift apart.

use serde::Serialize;
use strum::VariantArray;

fn strum_names_are_serde_names<T>()
where
    T: Serialize + Copy + VariantArray + Into<&'static str> + std::fmt::Debug,
{
    for &v in T::VARIANTS {
        let name: &'static str = v.into();
        assert_eq!(
            serde_json::to_value(v).unwrap(),
            serde_json::Value::from(name),
            "{v:?}"
        );
    }
}

#[test]
fn every_variant_has_one_name() {
    strum_names_are_serde_names::<crate::python::inspect::Build>();
    strum_names_are_serde_names::<crate::ext::Variant>();
    strum_names_are_serde_names::<crate::plan::StartMode>();
    strum_names_are_serde_names::<crate::arena::snapshot::Figure>();
    // The names themselves, as earlier files hold them.
    use crate::python::inspect::Build;
    assert_eq!(
        (Build::Gil.as_str(), Build::Nogil.to_string()),
        ("gil", "nogil".into())
    );
    assert_eq!(crate::ext::Variant::Jemalloc.as_str(), "jemalloc");
    assert_eq!(crate::plan::StartMode::Barrier.as_str(), "barrier");
    assert_eq!(
        crate::arena::snapshot::Figure::SystemMemBytes.as_str(),
        "system_mem_bytes"
    );
    assert_eq!(
        crate::inspect::assessment::Level::NotApplicable.as_str(),
        "not applicable"
    );
}
