//! Lists: one page at a time, every page as a stream, or every item.

use crate::client::Client;
use crate::error::Error;
use crate::model::Page;
use casebook_domain::pagination::{page_cursor, page_size};
use futures_util::Stream;
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A list request: set a page size or starting cursor, then
/// [`send`](Self::send) for one page, [`pages`](Self::pages) for every page,
/// [`items`](Self::items) for every item, or [`all`](Self::all) to collect them.
///
/// ```no_run
/// # async fn run(client: casebook_sdk::Client) -> Result<(), casebook_sdk::Error> {
/// let mut pages = client.cases().list().limit(100).pages();
/// while let Some(page) = pages.next_page().await {
///     for case in page?.items {
///         println!("{} {}", case.id, case.title);
///     }
/// }
/// # Ok(()) }
/// ```
#[must_use = "a list does nothing until sent"]
pub struct List<T> {
    client: Client,
    path: Vec<&'static str>,
    filters: Vec<(&'static str, String)>,
    limit: Option<u32>,
    cursor: Option<String>,
    item: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("path", &self.path.join("/"))
            .field("filters", &self.filters)
            .field("limit", &self.limit)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> List<T> {
    pub(crate) fn new(client: &Client, path: &[&'static str]) -> Self {
        Self {
            client: client.clone(),
            path: path.to_vec(),
            filters: vec![],
            limit: None,
            cursor: None,
            item: PhantomData,
        }
    }

    pub(crate) fn filter(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.filters.retain(|(n, _)| *n != name);
        self.filters.push((name, value.into()));
        self
    }

    /// Items per page: 1 to 100; the server's default (50) unless set.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Starts at the page a previous page's `next_cursor` points to.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// One page.
    pub async fn send(self) -> Result<Page<T>, Error> {
        self.request().fetch(self.cursor).await
    }

    /// Every page from the cursor on, one request per page, as they are
    /// consumed. Also a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) of pages. Stops after the first error.
    pub fn pages(self) -> Pages<T> {
        let cursor = self.cursor.clone();
        Pages {
            request: Some(self.request()),
            cursor,
            in_flight: None,
        }
    }

    /// Every item of every page from the cursor on. Also a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html) of items.
    pub fn items(self) -> Items<T> {
        Items {
            pages: self.pages(),
            buffered: VecDeque::new(),
        }
    }

    /// Every item of every page, collected.
    pub async fn all(self) -> Result<Vec<T>, Error>
    where
        T: Unpin,
    {
        let mut items = self.items();
        let mut all = Vec::new();
        while let Some(item) = items.next_item().await {
            all.push(item?);
        }
        Ok(all)
    }

    fn request(&self) -> PageRequest<T> {
        PageRequest {
            client: self.client.clone(),
            path: self.path.clone(),
            filters: self.filters.clone(),
            limit: self.limit,
            item: PhantomData,
        }
    }
}

struct PageRequest<T> {
    client: Client,
    path: Vec<&'static str>,
    filters: Vec<(&'static str, String)>,
    limit: Option<u32>,
    item: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned + Send + 'static> PageRequest<T> {
    fn fetch(&self, cursor: Option<String>) -> impl Future<Output = Result<Page<T>, Error>> + Send + 'static {
        let client = self.client.clone();
        let path = self.path.clone();
        let mut query = self.filters.clone();
        let limit = self.limit;
        async move {
            if let Some(limit) = limit {
                // The server's own rule, checked before sending.
                let limit = page_size(Some(i64::from(limit))).map_err(|e| Error::Validation(e.into()))?;
                query.push(("limit", limit.to_string()));
            }
            if let Some(cursor) = cursor {
                page_cursor(Some(&cursor)).map_err(|e| Error::Validation(e.into()))?;
                query.push(("cursor", cursor));
            }
            client.send(Method::GET, &path, &query, None::<&()>).await
        }
    }
}

type PageFuture<T> = Pin<Box<dyn Future<Output = Result<Page<T>, Error>> + Send>>;

/// Every page of a list, fetched one at a time as they are consumed: call
/// [`next_page`](Self::next_page), or use it as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html).
#[must_use = "pages are fetched only when consumed"]
pub struct Pages<T> {
    /// `None` once the last page, or an error, was handed out.
    request: Option<PageRequest<T>>,
    cursor: Option<String>,
    in_flight: Option<PageFuture<T>>,
}

impl<T> fmt::Debug for Pages<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pages")
            .field("done", &self.request.is_none())
            .field("cursor", &self.cursor)
            .field("fetching", &self.in_flight.is_some())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + 'static> Pages<T> {
    /// The next page; `None` after the last page or after an error.
    pub async fn next_page(&mut self) -> Option<Result<Page<T>, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T: DeserializeOwned + Send + 'static> Stream for Pages<T> {
    type Item = Result<Page<T>, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(request) = &this.request else {
            return Poll::Ready(None);
        };
        let future = this
            .in_flight
            .get_or_insert_with(|| Box::pin(request.fetch(this.cursor.clone())));
        let result = std::task::ready!(future.as_mut().poll(cx));
        this.in_flight = None;
        match &result {
            // A cursor that does not move would page forever.
            Ok(page) if page.next_cursor.is_some() && page.next_cursor != this.cursor => {
                this.cursor = page.next_cursor.clone();
            }
            _ => this.request = None,
        }
        Poll::Ready(Some(result))
    }
}

/// Every item of a list, fetching pages as needed: call
/// [`next_item`](Self::next_item), or use it as a [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html).
#[must_use = "items are fetched only when consumed"]
pub struct Items<T> {
    pages: Pages<T>,
    buffered: VecDeque<T>,
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("pages", &self.pages)
            .field("buffered", &self.buffered.len())
            .finish()
    }
}

impl<T: DeserializeOwned + Send + Unpin + 'static> Items<T> {
    /// The next item; `None` after the last one or after an error.
    pub async fn next_item(&mut self) -> Option<Result<T, Error>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl<T: DeserializeOwned + Send + Unpin + 'static> Stream for Items<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.buffered.pop_front() {
                return Poll::Ready(Some(Ok(item)));
            }
            match std::task::ready!(Pin::new(&mut this.pages).poll_next(cx)) {
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                Some(Ok(page)) => this.buffered.extend(page.items),
            }
        }
    }
}
