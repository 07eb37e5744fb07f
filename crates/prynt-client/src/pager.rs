//! Walking a cursor-paginated listing to its end: page by page with
//! [`Pager::next_page`], or item by item as a [`Stream`].

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::pin::Pin;

use futures_core::Stream;
use reqwest::Url;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::common::CursorPage;
use crate::error::Result;

/// The pages of an event listing, fetched one at a time as they are asked for.
///
/// ```no_run
/// # async fn run(prynt: prynt_client::Client) -> prynt_client::Result<()> {
/// use prynt_client::{EventListParams, Verdict};
/// let mut pages = prynt.events_pager(EventListParams {
///     verdict: Some(Verdict::Block),
///     limit: Some(100),
///     ..Default::default()
/// })?;
/// while let Some(page) = pages.next_page().await? {
///     for event in page.data {
///         println!("{}", event.request_id);
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pager<T> {
    client: Client,
    /// The listing's URL with its filters, without a cursor.
    url: Url,
    cursor: Option<String>,
    done: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> Pager<T> {
    pub(crate) fn new(client: Client, url: Url, cursor: Option<String>) -> Self {
        Pager {
            client,
            url,
            cursor,
            done: false,
            _item: PhantomData,
        }
    }

    /// The next page, or `None` after the last one.
    pub async fn next_page(&mut self) -> Result<Option<CursorPage<T>>> {
        if self.done {
            return Ok(None);
        }
        let mut url = self.url.clone();
        if let Some(c) = &self.cursor {
            url.query_pairs_mut().append_pair("cursor", c);
        }
        let page: CursorPage<T> = self.client.get(url).await?;
        match (&page.next_cursor, page.has_more) {
            // A cursor that does not move would fetch the same page forever.
            (Some(next), true) if self.cursor.as_ref() != Some(next) => {
                self.cursor = Some(next.clone());
            }
            // Without a new cursor to follow there is no way on, whatever `hasMore` says.
            _ => self.done = true,
        }
        Ok(Some(page))
    }

    /// Every remaining item, in order, in one vector.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page.data);
        }
        Ok(all)
    }

    /// Every remaining item as a stream; a failed page (after the client's retries) is yielded
    /// as an error and ends the stream.
    pub fn into_stream(self) -> Pin<Box<dyn Stream<Item = Result<T>> + Send>> {
        Box::pin(futures_util::stream::unfold(
            (self, VecDeque::new()),
            |(mut pager, mut buffered)| async move {
                loop {
                    if let Some(item) = buffered.pop_front() {
                        return Some((Ok(item), (pager, buffered)));
                    }
                    match pager.next_page().await {
                        Ok(Some(page)) => buffered.extend(page.data),
                        Ok(None) => return None,
                        Err(e) => {
                            pager.done = true;
                            return Some((Err(e), (pager, buffered)));
                        }
                    }
                }
            },
        ))
    }
}
