//! The start-up check that the shared database still has the columns the native
//! handlers read.
//!
//! The admin app owns the schema and may change it; a renamed column must stop the
//! edge at start-up with its name, not fail requests one by one later.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Connection, PgConnection};

/// A column a handler reads: `(table, column)`.
pub type Column = (&'static str, &'static str);

/// What the check found.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The database could not be asked.
    #[error("cannot reach the database to check its schema: {0}")]
    Unreachable(String),
    /// Columns that the handlers read are not there.
    #[error("the database lacks columns the native routes read: {}", .0.join(", "))]
    MissingColumns(Vec<String>),
}

/// Checks that every column in `required` exists in the `public` schema.
pub async fn verify(database_url: &str, required: &[Column]) -> Result<(), SchemaError> {
    if required.is_empty() {
        return Ok(());
    }
    let mut connection = PgConnection::connect(database_url)
        .await
        .map_err(|e| SchemaError::Unreachable(e.to_string()))?;
    let present = present_columns(&mut connection).await?;
    let _ = connection.close().await;

    let missing = missing_columns(&present, required);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(SchemaError::MissingColumns(missing))
    }
}

async fn present_columns(
    connection: &mut PgConnection,
) -> Result<BTreeMap<String, BTreeSet<String>>, SchemaError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public'",
    )
    .fetch_all(connection)
    .await
    .map_err(|e| SchemaError::Unreachable(e.to_string()))?;

    let mut present: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (table, column) in rows {
        present.entry(table).or_default().insert(column);
    }
    Ok(present)
}

fn missing_columns(
    present: &BTreeMap<String, BTreeSet<String>>,
    required: &[Column],
) -> Vec<String> {
    let mut missing: Vec<String> = required
        .iter()
        .filter(|(table, column)| {
            !present
                .get(*table)
                .is_some_and(|cols| cols.contains(*column))
        })
        .map(|(table, column)| format!("{table}.{column}"))
        .collect();
    missing.sort();
    missing.dedup();
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_each_missing_column_once() {
        let mut present = BTreeMap::new();
        present.insert("events".to_owned(), BTreeSet::from(["id".to_owned()]));
        let required = [
            ("events", "id"),
            ("events", "name"),
            ("events", "name"),
            ("bookings", "id"),
        ];
        assert_eq!(
            missing_columns(&present, &required),
            vec!["bookings.id".to_owned(), "events.name".to_owned()]
        );
    }
}
