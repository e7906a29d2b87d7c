//! The shop as the load generator reaches it: a client of one server's API
//! (a buyer's command posted through the API or the shop's forms), and the
//! concert it puts on sale.

use anyhow::Context;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::Via;

/// The API of one server, as a client.
#[derive(Clone)]
pub(super) struct Api {
    pub(super) http: Client,
    pub(super) base: String,
}

impl Api {
    /// Sends a request; the status and the body as JSON (`Null` if empty).
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes)? };
        Ok((status, body))
    }

    /// Sends a request that must answer `expected`; its body.
    pub(super) async fn expect(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        expected: StatusCode,
    ) -> anyhow::Result<Value> {
        let (status, body) = self.send(method.clone(), path, token, body).await?;
        anyhow::ensure!(status == expected, "{method} {path} answered {status}, not {expected}: {body}");
        Ok(body)
    }

    /// Posts one buyer's command, with an `Idempotency-Key` of its own, as
    /// `via` says, and reads the body away; only the status matters.
    pub(super) async fn post(
        &self,
        via: Via,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> Result<StatusCode, reqwest::Error> {
        let (path, content_type, credentials) = match via {
            Via::Api => (path.to_owned(), "application/json", (AUTHORIZATION, format!("Bearer {token}"))),
            Via::Pages => (
                format!("/shop{path}"),
                "application/x-www-form-urlencoded",
                (COOKIE, format!("cloudbash_session={token}")),
            ),
        };
        let key = uuid::Uuid::new_v4().to_string();
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(credentials.0, credentials.1)
            .header(CONTENT_TYPE, content_type);
        request = match via {
            Via::Api => request.header("idempotency-key", key).body(body.unwrap_or_default().to_owned()),
            Via::Pages => {
                let form = body.map_or(format!("key={key}"), |body| format!("{body}&key={key}"));
                request.body(form)
            }
        };
        let response = request.send().await?;
        let status = response.status();
        // Read to the end, so that the connection goes back to the pool.
        response.bytes().await?;
        Ok(status)
    }
}

/// The concert on sale.
pub(super) struct OnSale {
    pub(super) concert_id: String,
    pub(super) ticket_type_id: String,
    pub(super) quantity: u32,
}

/// Creates a venue and a published concert with one ticket type.
pub(super) async fn concert_on_sale(api: &Api, admin: &str, tickets: u32) -> anyhow::Result<OnSale> {
    let venue = json!({"name": "Flash Hall", "address": "Main Street 1", "city": "Utrecht", "capacity": tickets});
    let venue = api.expect(Method::POST, "/venues", admin, Some(venue), StatusCode::CREATED).await?;
    let concert = json!({"name": "Flash Sale", "venueId": venue["id"], "genre": "rock"});
    let concert = api.expect(Method::POST, "/concerts", admin, Some(concert), StatusCode::CREATED).await?;
    let concert_id = concert["id"].as_str().context("a concert id")?.to_owned();
    let ticket_type = json!({"name": "Standing", "price": {"amount": 2500, "currency": "EUR"}, "quantity": tickets});
    let path = format!("/concerts/{concert_id}/ticket-types");
    let ticket_type = api.expect(Method::POST, &path, admin, Some(ticket_type), StatusCode::CREATED).await?;
    let starts_at = chrono::Utc::now() + chrono::Duration::days(30);
    let schedule = json!({"startsAt": starts_at, "endsAt": starts_at + chrono::Duration::hours(3)});
    let path = format!("/concerts/{concert_id}/schedule");
    api.expect(Method::POST, &path, admin, Some(schedule), StatusCode::OK).await?;
    api.expect(Method::POST, &format!("/concerts/{concert_id}/publish"), admin, None, StatusCode::OK).await?;
    let ticket_type_id = ticket_type["id"].as_str().context("a ticket type id")?.to_owned();
    Ok(OnSale { concert_id, ticket_type_id, quantity: tickets })
}
