//! What a scope covers, and when one scope lies within another (spec/events.md, after the
//! event table).

use chl_model::event::Scope;
use chl_model::{Category, Region, Sku};

/// Whether `scope` covers the product `sku` of `category`: every product when it lists
/// nothing, else a product whose sku or category it lists.
pub fn covers(scope: &Scope, sku: &Sku, category: &Category) -> bool {
    if scope.skus.is_none() && scope.categories.is_none() {
        return true;
    }
    scope.skus.as_ref().is_some_and(|skus| skus.contains(sku))
        || scope.categories.as_ref().is_some_and(|cats| cats.contains(category))
}

fn covers_everything(scope: &Scope) -> bool {
    scope.skus.is_none() && scope.categories.is_none()
}

/// Whether every product `inner` could cover is covered by `outer`. A listed sku lies within
/// `outer` when `outer` covers that product; a listed category only when `outer` covers the
/// whole category (lists it, or covers everything). `category_of` finds a sku's category.
/// Returns the first part of `inner` that does not fit, described.
pub fn within<'a>(
    inner: &Scope,
    outer: &Scope,
    category_of: impl Fn(&Sku) -> Option<&'a Category>,
) -> Result<(), String> {
    if covers_everything(outer) {
        return Ok(());
    }
    if covers_everything(inner) {
        return Err("it covers every product of the brand".into());
    }
    for sku in inner.skus.iter().flatten() {
        let fits = category_of(sku).is_some_and(|category| covers(outer, sku, category));
        if !fits {
            return Err(format!("sku {sku} is not covered"));
        }
    }
    for category in inner.categories.iter().flatten() {
        let fits = outer.categories.as_ref().is_some_and(|cats| cats.contains(category));
        if !fits {
            return Err(format!("category {category} is not covered as a whole"));
        }
    }
    Ok(())
}

/// Whether a grant listing `regions` (none: everywhere) covers a sale in `region` (none: no
/// region known, which a grant that lists regions does not cover).
pub fn covers_region(regions: &Option<Vec<Region>>, region: Option<&Region>) -> bool {
    match (regions, region) {
        (None, _) => true,
        (Some(list), Some(region)) => list.contains(region),
        (Some(_), None) => false,
    }
}

/// Whether the regions of a child grant lie within its parent's.
pub fn regions_within(inner: &Option<Vec<Region>>, outer: &Option<Vec<Region>>) -> Result<(), String> {
    match (inner, outer) {
        (_, None) => Ok(()),
        (None, Some(_)) => Err("it covers every region".into()),
        (Some(inner), Some(outer)) => match inner.iter().find(|r| !outer.contains(r)) {
            Some(region) => Err(format!("region {region} is not covered")),
            None => Ok(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(skus: &[&str], categories: &[&str]) -> Scope {
        Scope {
            skus: (!skus.is_empty()).then(|| skus.iter().map(|s| Sku::parse(s).unwrap()).collect()),
            categories: (!categories.is_empty())
                .then(|| categories.iter().map(|c| Category::parse(c).unwrap()).collect()),
        }
    }

    #[test]
    fn scopes_lie_within_scopes_as_the_spec_says() {
        let serum = Sku::parse("SERUM").unwrap();
        let cream = Sku::parse("CREAM").unwrap();
        let skincare = Category::parse("skincare").unwrap();
        let product_of = |sku: &Sku| (*sku == serum || *sku == cream).then_some(&skincare);
        let all = scope(&[], &[]);
        assert!(within(&scope(&["SERUM"], &[]), &all, product_of).is_ok());
        assert!(within(&all, &scope(&["SERUM"], &[]), product_of).is_err());
        assert!(within(&scope(&["SERUM"], &[]), &scope(&[], &["skincare"]), product_of).is_ok());
        assert!(within(&scope(&[], &["skincare"]), &scope(&["SERUM", "CREAM"], &[]), product_of).is_err());
        assert!(within(&scope(&[], &["skincare"]), &scope(&[], &["skincare"]), product_of).is_ok());
        assert!(within(&scope(&["CREAM"], &[]), &scope(&["SERUM"], &[]), product_of).is_err());
        assert!(within(&scope(&["GHOST"], &[]), &scope(&["SERUM"], &[]), product_of).is_err());
    }

    #[test]
    fn regions() {
        let cn31 = Region::parse("CN-31").unwrap();
        let cn32 = Region::parse("CN-32").unwrap();
        assert!(covers_region(&None, None));
        assert!(!covers_region(&Some(vec![cn31.clone()]), None));
        assert!(covers_region(&Some(vec![cn31.clone()]), Some(&cn31)));
        assert!(!covers_region(&Some(vec![cn31.clone()]), Some(&cn32)));
        assert!(regions_within(&Some(vec![cn31.clone()]), &Some(vec![cn31.clone(), cn32.clone()])).is_ok());
        assert!(regions_within(&None, &Some(vec![cn31.clone()])).is_err());
        assert!(regions_within(&Some(vec![cn32]), &Some(vec![cn31])).is_err());
    }
}
