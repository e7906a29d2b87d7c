// Cloudbash: paying by card on the payment page. Stripe.js (loaded before this script) draws the card form and
// sends the card to Stripe; this script starts it, confirms the payment with the order's client secret, and
// follows the order until the shop knows how the payment went, then loads the page again, which shows it (a
// paid order leads to the orders page). Messages are written as text only.
"use strict";

(function () {
  const form = document.getElementById("pay-form");
  if (!form) return;
  const button = document.getElementById("pay-button");
  const message = document.getElementById("pay-message");
  const say = (text) => { message.textContent = text; };
  const every = Math.max(1, Number(form.dataset.pollSeconds) || 2) * 1000;

  // Follows the order from the moment the page opens: a payment confirmed here, a hold that runs out or a
  // payment made in another tab all show.
  async function follow() {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, every));
      if (document.hidden) continue;
      let status = null;
      try {
        const response = await fetch(form.dataset.statusUrl, {
          headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin",
        });
        if (response.ok) status = (await response.json()).status;
      } catch (_) {
        // Offline for a moment: ask again.
      }
      if (status && status !== "pendingPayment") {
        window.location.reload();
        return;
      }
    }
  }

  if (typeof window.Stripe !== "function") {
    say("The card form could not be loaded. Please check your connection and reload this page.");
    button.disabled = true;
    follow();
    return;
  }
  const stripe = window.Stripe(form.dataset.stripeKey);
  const card = stripe.elements().create("card");
  card.mount("#card-element");

  let paying = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (paying) return;
    paying = true;
    button.disabled = true;
    say("Paying…");
    let result;
    try {
      result = await stripe.confirmCardPayment(form.dataset.clientSecret, { payment_method: { card: card } });
    } catch (_) {
      result = { error: { message: "The payment could not be sent. Please check your connection and try again." } };
    }
    const again = (text) => {
      say(text + " You can try again or use another card.");
      paying = false;
      button.disabled = false;
    };
    if (result && result.error) {
      again(typeof result.error.message === "string" ? result.error.message : "The payment did not go through.");
      return;
    }
    const intent = result && result.paymentIntent;
    if (!intent || (intent.status !== "succeeded" && intent.status !== "processing")) {
      again("The payment was not completed.");
      return;
    }
    say("Your card is accepted. Waiting for the payment to be confirmed…");
  });

  follow();
})();
