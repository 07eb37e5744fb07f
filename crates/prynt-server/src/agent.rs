//! The browser agent's script, wrapped once at start-up for both ways a page can load it; served
//! by `GET /v1/agent.js` and `GET /v1/agent.mjs`.

static AGENT_SOURCE: &str = include_str!("../../../agent/prynt.js");

/// The agent, wrapped once at start-up for both ways a page can load it.
#[derive(Debug)]
pub struct AgentScripts {
    pub classic: String,
    pub module: String,
}

impl AgentScripts {
    pub fn build() -> Self {
        AgentScripts {
            classic: format!(
                "(function(){{\"use strict\";\n{AGENT_SOURCE}\nwindow.Prynt = Prynt;}})();\n"
            ),
            module: format!("{AGENT_SOURCE}\nexport {{ Prynt }};\nexport default Prynt;\n"),
        }
    }
}
