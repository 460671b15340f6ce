//! Turning templates into responses, and showing a form's problems beside
//! its fields.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use askama::Template;

use super::layout::html;
use crate::error::Error;

/// Problems with a submitted form, by field, shown beside each field.
#[derive(Default, Debug)]
pub struct FieldErrors {
    by_field: HashMap<Cow<'static, str>, String>,
    /// A name or e-mail was taken: the form answers 409 rather than 400.
    conflict: bool,
}

impl FieldErrors {
    /// Records a problem the page finds itself; the first per field stays.
    pub fn add(&mut self, field: impl Into<Cow<'static, str>>, message: impl Into<String>) {
        self.by_field
            .entry(field.into())
            .or_insert_with(|| message.into());
    }

    /// Records a user's mistake; returns infrastructure errors to propagate.
    pub fn absorb(&mut self, e: common::Error) -> Result<(), common::Error> {
        self.conflict |= matches!(e, common::Error::Conflict { .. });
        match e.field() {
            Some(field) => {
                let field = field.to_owned();
                self.add(field, e.to_string());
                Ok(())
            }
            None => Err(e),
        }
    }

    /// The problem with `field`, for the template to show beside it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.by_field.get(field).map(String::as_str)
    }

    /// Whether the form may go on to its action.
    pub fn is_empty(&self) -> bool {
        self.by_field.is_empty()
    }

    /// 409 when a name is taken, 400 for any other bad input.
    pub fn status(&self) -> StatusCode {
        if self.conflict {
            StatusCode::CONFLICT
        } else {
            StatusCode::BAD_REQUEST
        }
    }
}

/// Renders `template` with `status` as an HTML response; a template that
/// fails becomes the error page, through the caller's `?`.
pub fn render(status: StatusCode, template: &impl Template) -> Result<HttpResponse, Error> {
    Ok(html(status, template.render()?))
}
