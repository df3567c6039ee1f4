//! `/v1/stock`: levels of several SKUs, of one, and setting one's stock.

use axum::extract::State;
use axum::http::StatusCode;
use brigade_chassis::extract::{Json, NoParameters, Path, Query};
use brigade_chassis::Problem;
use inventory_api::{problems, validate_sku, SetStock, StockLevel, StockLevels, StockQuery};

use super::{now_ms, store_failed};
use crate::store::{SetStockError, StockSet, Store};

/// `GET /v1/stock?skus=…`.
pub(super) async fn list(
    State(store): State<Store>,
    Query(query): Query<StockQuery>,
) -> Result<Json<StockLevels>, Problem> {
    let skus = query.validate()?;
    store
        .levels(&skus)
        .await
        .map(Json)
        .map_err(|e| store_failed(&e))
}

/// `GET /v1/stock/{sku}`.
pub(super) async fn one(
    State(store): State<Store>,
    Path(sku): Path<String>,
    _: Query<NoParameters>,
) -> Result<Json<StockLevel>, Problem> {
    validate_sku("sku", &sku)?;
    match store.level(&sku).await {
        Ok(Some(level)) => Ok(Json(level)),
        Ok(None) => Err(Problem::not_found(format!(
            "the inventory does not stock {sku}"
        ))),
        Err(e) => Err(store_failed(&e)),
    }
}

/// `PUT /v1/stock/{sku}`: 201 when the SKU is new, 200 when it was stocked.
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
        Err(SetStockError::Store(e)) => Err(store_failed(&e)),
    }
}
