//! A small domain for the cases that go through the kernel's repository and
//! upcasters: a bank account that can be opened, credited and debited, and
//! that refuses to be overdrawn. Small enough to read at a glance, with one
//! rule that can refuse a command and one event type whose `Data` shape has
//! changed twice (so the upcasting cases have a real chain to walk).

use es_core::{Aggregate, CodecError, DomainEvent, Upcasters, decode_adjacent, encode_adjacent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// `EventType` of [`AccountEvent::Opened`].
pub const OPENED: &str = "AccountOpened";
/// `EventType` of [`AccountEvent::Deposited`].
pub const DEPOSITED: &str = "MoneyDeposited";
/// `EventType` of [`AccountEvent::Withdrawn`].
pub const WITHDRAWN: &str = "MoneyWithdrawn";

/// The current schema version of [`DEPOSITED`]. Its history:
/// 1. `{"sum": "12"}`: the amount as decimal text;
/// 2. `{"amount": "12"}`: renamed;
/// 3. `{"amount": 12}`: a number.
pub const DEPOSITED_SCHEMA_VERSION: u32 = 3;

/// The state of one account.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Who opened it; `None` until it is opened.
    pub owner: Option<String>,
    /// Money on it, in cents.
    pub balance: u64,
    /// How many deposits it has seen.
    pub deposits: u64,
}

/// What happened to an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum AccountEvent {
    /// The account was opened.
    #[serde(rename = "AccountOpened")]
    Opened {
        /// Its owner.
        owner: String,
    },
    /// Money came in.
    #[serde(rename = "MoneyDeposited")]
    Deposited {
        /// In cents.
        amount: u64,
    },
    /// Money went out.
    #[serde(rename = "MoneyWithdrawn")]
    Withdrawn {
        /// In cents.
        amount: u64,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> &'static str {
        match self {
            AccountEvent::Opened { .. } => OPENED,
            AccountEvent::Deposited { .. } => DEPOSITED,
            AccountEvent::Withdrawn { .. } => WITHDRAWN,
        }
    }

    fn schema_version(&self) -> u32 {
        match self {
            AccountEvent::Deposited { .. } => DEPOSITED_SCHEMA_VERSION,
            AccountEvent::Opened { .. } | AccountEvent::Withdrawn { .. } => 1,
        }
    }

    fn encode(&self) -> Result<String, CodecError> {
        encode_adjacent(self.event_type(), self)
    }

    fn decode(event_type: &str, data: &str) -> Result<Self, CodecError> {
        match event_type {
            OPENED | DEPOSITED | WITHDRAWN => decode_adjacent(event_type, data),
            other => Err(CodecError::UnknownType(other.to_owned())),
        }
    }
}

/// What can be asked of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountCommand {
    /// Open it for `owner`.
    Open {
        /// The owner.
        owner: String,
    },
    /// Put `amount` cents on it.
    Deposit {
        /// In cents, above zero.
        amount: u64,
    },
    /// Several deposits at once, one event each (for long streams).
    DepositEach {
        /// Each in cents, above zero; at least one.
        amounts: Vec<u64>,
    },
    /// Take `amount` cents off it.
    Withdraw {
        /// In cents, above zero.
        amount: u64,
    },
}

/// Why an account refuses a command.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum AccountError {
    /// It is open already.
    #[error("the account is already open")]
    AlreadyOpen,
    /// It has not been opened.
    #[error("the account is not open")]
    NotOpen,
    /// An amount of zero, or no amounts at all.
    #[error("amounts must be above zero")]
    NoAmount,
    /// The withdrawal would overdraw it.
    #[error("cannot withdraw {requested} from a balance of {balance}")]
    InsufficientFunds {
        /// The balance at the time.
        balance: u64,
        /// What was asked for.
        requested: u64,
    },
}

impl Aggregate for Account {
    const KIND: &'static str = "account";

    type Event = AccountEvent;
    type Command = AccountCommand;
    type Error = AccountError;

    fn decide(&self, command: &AccountCommand) -> Result<Vec<AccountEvent>, AccountError> {
        if let AccountCommand::Open { owner } = command {
            if self.owner.is_some() {
                return Err(AccountError::AlreadyOpen);
            }
            return Ok(vec![AccountEvent::Opened { owner: owner.clone() }]);
        }
        if self.owner.is_none() {
            return Err(AccountError::NotOpen);
        }
        match command {
            AccountCommand::Open { .. } => Err(AccountError::AlreadyOpen),
            AccountCommand::Deposit { amount } => {
                if *amount == 0 {
                    return Err(AccountError::NoAmount);
                }
                Ok(vec![AccountEvent::Deposited { amount: *amount }])
            }
            AccountCommand::DepositEach { amounts } => {
                if amounts.is_empty() || amounts.contains(&0) {
                    return Err(AccountError::NoAmount);
                }
                Ok(amounts.iter().map(|&amount| AccountEvent::Deposited { amount }).collect())
            }
            AccountCommand::Withdraw { amount } => {
                if *amount == 0 {
                    return Err(AccountError::NoAmount);
                }
                if *amount > self.balance {
                    return Err(AccountError::InsufficientFunds { balance: self.balance, requested: *amount });
                }
                Ok(vec![AccountEvent::Withdrawn { amount: *amount }])
            }
        }
    }

    fn evolve(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { owner } => self.owner = Some(owner.clone()),
            AccountEvent::Deposited { amount } => {
                self.balance += amount;
                self.deposits += 1;
            }
            AccountEvent::Withdrawn { amount } => self.balance = self.balance.saturating_sub(*amount),
        }
    }
}

/// The upcasters that bring [`DEPOSITED`] from schema version 1 to
/// [`DEPOSITED_SCHEMA_VERSION`], one step per version.
pub fn account_upcasters() -> Upcasters {
    Upcasters::new()
        .register(DEPOSITED, 1, |mut data| {
            let object = data.as_object_mut().ok_or("version 1 data is not an object")?;
            let sum = object.remove("sum").ok_or("version 1 data has no sum")?;
            object.insert("amount".to_owned(), sum);
            Ok(data)
        })
        .register(DEPOSITED, 2, |mut data| {
            let object = data.as_object_mut().ok_or("version 2 data is not an object")?;
            let text =
                object.get("amount").and_then(serde_json::Value::as_str).ok_or("version 2 amount is not text")?;
            let amount: u64 = text.parse().map_err(|error| format!("version 2 amount {text:?}: {error}"))?;
            object.insert("amount".to_owned(), amount.into());
            Ok(data)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_encode_as_their_data_and_decode_back() {
        let event = AccountEvent::Deposited { amount: 12 };
        let data = event.encode().expect("encodes");
        assert_eq!(data, r#"{"amount":12}"#);
        assert_eq!(AccountEvent::decode(DEPOSITED, &data).expect("decodes"), event);
        assert!(AccountEvent::decode("Unknown", "{}").is_err());
    }

    #[test]
    fn an_account_refuses_to_be_overdrawn() {
        let mut account = Account::default();
        for event in account.decide(&AccountCommand::Open { owner: "ada".into() }).expect("opens") {
            account.evolve(&event);
        }
        for event in account.decide(&AccountCommand::Deposit { amount: 10 }).expect("deposits") {
            account.evolve(&event);
        }
        assert_eq!(
            account.decide(&AccountCommand::Withdraw { amount: 11 }),
            Err(AccountError::InsufficientFunds { balance: 10, requested: 11 })
        );
        assert_eq!(
            account.decide(&AccountCommand::Withdraw { amount: 10 }),
            Ok(vec![AccountEvent::Withdrawn { amount: 10 }])
        );
    }
}
