//! `/v1/stock`: levels of several SKUs, of one, and setting one's stock.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, NoParameters, Path, Query};
use brigade_chassis::problem::OrNotFound;
use brigade_chassis::Problem;
use inventory_api::{paths, problems, validate_sku, SetStock, StockLevel, StockLevels, StockQuery};

use super::now_ms;
use crate::store::{SetStockError, StockSet, Store};

/// Levels of several SKUs.
#[utoipa::path(
    get,
    path = paths::STOCK,
    operation_id = "stockLevels",
    params(StockQuery),
    responses((status = 200, description = "The levels of the SKUs stocked, and the SKUs not \
        stocked", body = StockLevels)),
)]
pub(super) async fn list(
    State(store): State<Store>,
    Query(query): Query<StockQuery>,
) -> Result<Json<StockLevels>, Problem> {
    let skus = query.validate()?;
    Ok(Json(store.levels(&skus).await?))
}

/// One SKU's level.
#[utoipa::path(
    get,
    path = paths::STOCK_LEVEL,
    operation_id = "stockLevel",
    params(("sku" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,64}$", description = "1 to 64 ASCII letters, digits, `-`, `_` or `.`.")),
    responses(
        (status = 200, description = "The SKU's level", body = StockLevel),
        (status = 404, description = "not-found: the inventory does not stock this SKU",
            body = Problem),
    ),
)]
pub(super) async fn one(
    State(store): State<Store>,
    Path(sku): Path<String>,
    _: Query<NoParameters>,
) -> Result<Json<StockLevel>, Problem> {
    validate_sku("sku", &sku)?;
    let level = store.level(&sku).await?;
    Ok(Json(level.or_not_found(|| {
        format!("the inventory does not stock {sku}")
    })?))
}

/// Set a SKU's total stock.
///
/// 201 when the SKU is new, 200 when it was stocked.
#[utoipa::path(
    put,
    path = paths::STOCK_LEVEL,
    operation_id = "setStock",
    params(("sku" = String, Path, pattern = r"^[A-Za-z0-9._-]{1,64}$", description = "1 to 64 ASCII letters, digits, `-`, `_` or `.`.")),
    request_body = SetStock,
    responses(
        (status = 200, description = "The SKU's new level", body = StockLevel),
        (status = 201, description = "The new SKU's level", body = StockLevel),
        (status = 409, description = "stock-below-reserved: the stock would be below the \
            units held and sold (`held`, `committed`)", body = Problem),
    ),
)]
pub(super) async fn set(
    State(store): State<Store>,
    Path(sku): Path<String>,
    _: Query<NoParameters>,
    Json(body): Json<SetStock>,
) -> Result<(StatusCode, Json<StockLevel>), Problem> {
    validate_sku("sku", &sku)?;
    let stock = body.validate()?;
    match store.set_stock(&sku, stock, now_ms()).await {
        Ok((level, StockSet::Created)) => Ok((StatusCode::CREATED, Json(level))),
        Ok((level, StockSet::Updated)) => Ok((StatusCode::OK, Json(level))),
        Err(SetStockError::BelowReserved {
            wanted,
            held,
            committed,
        }) => Err(Problem::new(
            StatusCode::CONFLICT,
            problems::STOCK_BELOW_RESERVED,
            "Stock below reserved units",
            format!(
                "cannot set the stock of {sku} to {wanted}: {held} units are held and {committed} sold, so it must be at least {}",
                held + committed
            ),
        )
        .with("held", held)
        .with("committed", committed)),
        Err(SetStockError::Store(e)) => Err(Problem::store_failed(&e)),
    }
}
