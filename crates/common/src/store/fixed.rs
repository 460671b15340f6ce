//! A statement written as SQL whose text never changes, with typed binds.
//! `diesel::sql_query` is never prepared: Postgres parses and plans it on
//! every call, and for the bulk write's array statements that was a fifth
//! of Postgres's time. A [`Fixed`] statement is prepared once per
//! connection and reused (diesel's statement cache keys it by its text).

use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{Error as DieselError, QueryResult};
use diesel::sql_types::Untyped;

/// SQL with placeholders `$1`, `$2`, ... in that order, each once, and a
/// bind for each. Loads rows with `QueryableByName`, like `sql_query`.
pub(crate) struct Fixed<'a> {
    sql: &'static str,
    binds: Vec<Box<dyn QueryFragment<Pg> + Send + 'a>>,
}

impl<'a> Fixed<'a> {
    /// The statement `sql`, binds to follow.
    pub(crate) fn new(sql: &'static str) -> Self {
        Self {
            sql,
            binds: Vec::new(),
        }
    }

    /// Binds the next placeholder to `value` as SQL type `ST`.
    pub(crate) fn bind<ST, T>(mut self, value: T) -> Self
    where
        T: AsExpression<ST>,
        T::Expression: QueryFragment<Pg> + Send + 'a,
        ST: diesel::sql_types::SqlType + diesel::expression::TypedExpressionType,
    {
        self.binds.push(Box::new(value.as_expression()));
        self
    }
}

impl QueryFragment<Pg> for Fixed<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        let mut binds = self.binds.iter();
        let mut number = 0;
        while let Some(at) = rest.find('$') {
            out.push_sql(&rest[..at]);
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            number += 1;
            if rest[at + 1..at + 1 + digits].parse() != Ok(number) {
                return Err(misnumbered(self.sql));
            }
            let bind = binds.next().ok_or_else(|| misnumbered(self.sql))?;
            bind.walk_ast(out.reborrow())?;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        match binds.next() {
            Some(_) => Err(misnumbered(self.sql)),
            None => Ok(()),
        }
    }
}

fn misnumbered(sql: &str) -> DieselError {
    DieselError::QueryBuilderError(
        format!("placeholders must be $1, $2, ... in order, one per bind: {sql}").into(),
    )
}

impl QueryId for Fixed<'_> {
    type QueryId = ();
    // Cached by its text: the text never changes.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Fixed<'_> {
    type SqlType = Untyped;
}

#[cfg(test)]
mod tests {
    use diesel::pg::PgQueryBuilder;
    use diesel::query_builder::QueryBuilder;
    use diesel::sql_types::{Array, BigInt, Text};

    use super::*;

    fn sql(q: &Fixed<'_>) -> QueryResult<String> {
        let mut builder = PgQueryBuilder::default();
        q.to_sql(&mut builder, &Pg)?;
        Ok(builder.finish())
    }

    #[test]
    fn the_text_is_kept_and_its_placeholders_bound_in_order() {
        let text = "SELECT * FROM unnest($1::bigint[], $2::text[]) AS t(a, b)";
        let q = Fixed::new(text)
            .bind::<Array<BigInt>, _>(vec![1i64, 2])
            .bind::<Array<Text>, _>(vec!["x", "y"]);
        assert_eq!(sql(&q).ok().as_deref(), Some(text));
        assert_eq!(q.is_safe_to_cache_prepared(&Pg).ok(), Some(true));
    }

    #[test]
    fn placeholders_out_of_order_or_without_a_bind_are_refused() {
        let missing = Fixed::new("SELECT $1");
        let extra = Fixed::new("SELECT 1").bind::<BigInt, _>(1i64);
        let swapped = Fixed::new("SELECT $2, $1")
            .bind::<BigInt, _>(1i64)
            .bind::<BigInt, _>(2i64);
        for q in [missing, extra, swapped] {
            assert!(sql(&q).is_err());
        }
    }
}
